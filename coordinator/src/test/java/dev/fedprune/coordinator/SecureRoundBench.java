package dev.fedprune.coordinator;

import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.PruneMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bench, not a test: the same one-shot FedPrLLM job in the clear and with secureAggregation, through the real
 * coordinator, gRPC and enrolled agents in this JVM; prints bytes uploaded per agent (every phase) and seconds.
 * {@code -Dfedprune.bench.secagg=AGENTS:LAYERS:HIDDEN:INTERMEDIATE}, e.g. {@code 16:2:256:688}.
 */
@EnabledIfSystemProperty(named = "fedprune.bench.secagg", matches = "\\d+:\\d+:\\d+:\\d+")
class SecureRoundBench {
    @TempDir
    Path dir;

    @Test
    void clearVersusSecure() throws Exception {
        String[] p = System.getProperty("fedprune.bench.secagg").split(":");
        int agents = Integer.parseInt(p[0]);
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]), 4, 4, 64, 32,
                true, DType.F32), 5);
        Path data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n{\"ids\":[1,4,5]}\n");
        StringBuilder out = new StringBuilder("| setting | agents | weights | upload bytes per agent (by phase) | relayed to each agent | round s (phases: first task issued to last answer) | job s |\n|---|---|---|---|---|---|---|\n");
        for (String extra : List.of("", "secureAggregation: true", "", "secureAggregation: true")) {
            try (Federation fed = new Federation(Files.createTempDirectory(dir, extra.isEmpty() ? "clear" : "secure"))) {
                for (int a = 0; a < agents; a++) {
                    fed.startAgent(Files.createTempDirectory(dir, "work-" + a), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()),
                            new AgentLoop.Options(String.format(Locale.ROOT, "agent-%03d", a), data, true, 60_000, 5));
                }
                long started = System.nanoTime();
                String jobId = fed.node.engine().submit(JobSpecParser.parse("""
                    model: %s
                    localPruner: magnitude
                    sparsity: 0.5
                    agentsPerRound: %d
                    deadlineSeconds: 600
                    %s
                    """.formatted(model, agents, extra)));
                JobRecord job = fed.awaitFinal(jobId, 1_800_000);
                double jobSeconds = (System.nanoTime() - started) / 1e9;
                RoundRecord round = fed.node.store().rounds(jobId).get(0);
                List<TaskRecord> tasks = fed.node.store().tasksOfJob(jobId);
                Map<String, Long> byKind = tasks.stream().collect(Collectors.groupingBy(t -> t.kind().replace("TASK_KIND_", "").toLowerCase(Locale.ROOT),
                        java.util.TreeMap::new, Collectors.summingLong(TaskRecord::bytesUp)));
                long total = byKind.values().stream().mapToLong(Long::longValue).sum();
                String phases = byKind.entrySet().stream().map(e -> e.getKey() + " " + e.getValue() / agents).collect(Collectors.joining(", "));
                // What the coordinator relays in the task of each phase: every advertisement, then every envelope.
                long relayed = byKind.getOrDefault("secagg_keys", 0L) + byKind.getOrDefault("secagg_shares", 0L);
                long weights = weights(model);
                String phaseSeconds = tasks.stream().collect(Collectors.groupingBy(t -> t.kind().replace("TASK_KIND_", "").toLowerCase(Locale.ROOT),
                        java.util.TreeMap::new, Collectors.toList())).entrySet().stream().map(e -> String.format(Locale.ROOT, "%s %.1f", e.getKey(),
                        (e.getValue().stream().mapToLong(t -> t.finishedAt() == null ? 0 : t.finishedAt()).max().orElse(0)
                                - e.getValue().stream().mapToLong(TaskRecord::assignedAt).min().orElse(0)) / 1e3)).collect(Collectors.joining(", "));
                out.append(String.format(Locale.ROOT, "| %s | %d | %d | %d (%s) | %d | %.1f (%s) | %.1f |%n", extra.isEmpty() ? "clear" : "secure", agents, weights,
                        total / agents, phases, relayed, (round.closedAt() - round.openedAt()) / 1e3, phaseSeconds, jobSeconds));
                if (!job.state().equals("COMPLETED")) {
                    throw new AssertionError(job + "\n" + fed.node.store().events(jobId));
                }
            }
        }
        System.out.println("SECAGG BENCH\n" + out);
        Files.writeString(Path.of("target", "secagg-round-bench.md"), out);
    }

    private static long weights(Path model) throws java.io.IOException {
        long n = 0;
        try (var checkpoint = dev.fedprune.aggregation.format.Checkpoint.open(model)) {
            for (var info : checkpoint.infos()) {
                if (info.name().matches("model\\.layers\\.\\d+\\.(self_attn|mlp)\\..*_proj\\.weight")) {
                    n += info.elementCount();
                }
            }
        }
        return n;
    }
}
