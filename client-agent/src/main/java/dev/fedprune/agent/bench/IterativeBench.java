package dev.fedprune.agent.bench;

import dev.fedprune.agent.iterative.JobStates;
import dev.fedprune.agent.iterative.JobStatesDirectory;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.agent.prune.PruneMethods;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One agent through the rounds of a FedPrLLM iterative job, through the agent's own mask engine, with
 * calibration states kept between rounds; each chosen round is run a second time right after, with
 * nothing kept (every earlier layer recomputed, as before), and the masks of both must be the same bits.
 * Wall and process CPU seconds are printed for both (CPU seconds suffer less from a shared machine). The
 * agent's own masks stand in for each round's global masks (a federation of one).
 */
@Command(name = "iterative", description = "Seconds per iterative round with calibration states kept between rounds vs recomputed.")
final class IterativeBench implements Callable<Integer> {
    @Option(names = "--model", required = true) Path model;
    @Option(names = "--calib", required = true) Path calib;
    @Option(names = "--method", defaultValue = "wanda", description = "magnitude, wanda or sparsegpt") String methodWord;
    @Option(names = "--samples", defaultValue = "8") int samples;
    @Option(names = "--seqlen", defaultValue = "128") int seqLen;
    @Option(names = "--rounds", split = ",", defaultValue = "1,8,15", description = "the rounds (= layers) also run with nothing kept")
    List<Integer> rounds;
    @Option(names = "--work", description = "where the states are kept (default: a new temporary directory)") Path work;

    /** Wall and process CPU seconds of one round. */
    private record Timing(double wallSeconds, double cpuSeconds) {
    }

    @Override
    public Integer call() throws Exception {
        int layers;
        try (LlamaModel llm = LlamaModel.open(model)) {
            layers = llm.config().layers();
        }
        int last = rounds.stream().mapToInt(Integer::intValue).max().orElseThrow();
        if (last >= layers) {
            throw new IllegalArgumentException("round " + last + " is past the model's " + layers + " layers");
        }
        Path root = work != null ? work : Files.createTempDirectory("fedprune-iterative-bench");
        JobStatesDirectory directory = new JobStatesDirectory(root.resolve("calibration-states"));
        JobStates states = directory.retainOnly("bench-job", "bench-model");
        LlmMaskEngine engine = new LlmMaskEngine();
        Map<String, BitMask> global = new LinkedHashMap<>();
        List<String> table = new ArrayList<>();
        Timing keptTotal = new Timing(0, 0);
        boolean allSame = true;
        for (int b = 0; b <= last; b++) {
            List<Map<String, BitMask>> masks = new ArrayList<>();
            Timing kept = time(engine, b, global, states, masks);
            keptTotal = new Timing(keptTotal.wallSeconds() + kept.wallSeconds(), keptTotal.cpuSeconds() + kept.cpuSeconds());
            System.out.printf(Locale.ROOT, "round %d (layer %d), states kept: %.2f s wall, %.2f s CPU%n", b, b, kept.wallSeconds(), kept.cpuSeconds());
            if (rounds.contains(b)) {
                Timing recomputed = time(engine, b, global, null, masks);
                boolean same = masks.get(0).equals(masks.get(1));
                allSame &= same;
                System.out.printf(Locale.ROOT, "round %d (layer %d), recomputed:  %.2f s wall, %.2f s CPU%n", b, b, recomputed.wallSeconds(),
                        recomputed.cpuSeconds());
                table.add(String.format(Locale.ROOT, "| %d | %.1f | %.1f | %.1f | %.1f | %.1fx | %s |", b, recomputed.wallSeconds(),
                        recomputed.cpuSeconds(), kept.wallSeconds(), kept.cpuSeconds(), recomputed.cpuSeconds() / kept.cpuSeconds(), same));
            }
            global.putAll(masks.get(0));
        }
        System.out.printf(Locale.ROOT, "%n| round | recomputed wall (s) | recomputed CPU (s) | states kept wall (s) | states kept CPU (s) | CPU ratio"
                + " | masks identical |%n|---|---|---|---|---|---|---|%n");
        table.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "rounds 0..%d with states kept: %.1f s wall, %.1f s CPU; %s, %d samples of at most %d tokens, %d cores%n",
                last, keptTotal.wallSeconds(), keptTotal.cpuSeconds(), methodWord, samples, seqLen, Runtime.getRuntime().availableProcessors());
        directory.clear("the bench is over");
        Files.deleteIfExists(directory.root());
        if (work == null) {
            Files.deleteIfExists(root);
        }
        return allSame ? 0 : 1;
    }

    private Timing time(LlmMaskEngine engine, int layer, Map<String, BitMask> prior, JobStates states, List<Map<String, BitMask>> out)
            throws IOException {
        long cpu = processCpuNanos();
        long start = System.nanoTime();
        MaskRequest request = new MaskRequest(model, calib, PruneMethods.parse(methodWord), 0.5, true, 0, 0, samples, seqLen, 0, List.of(), layer, prior, states);
        out.add(engine.computeMasks(request, ProgressListener.NONE));
        return new Timing(LlmBench.seconds(start), (processCpuNanos() - cpu) / 1e9);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
