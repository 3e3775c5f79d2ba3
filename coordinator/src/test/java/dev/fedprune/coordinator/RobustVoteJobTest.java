package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The robust-vote options of a job, end to end: agreement per agent, trimming, sparsity refusal, compact masks. */
class RobustVoteJobTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void model() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 64, 128, 4, 2, 30, 32, true, DType.F32), 5);
        data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n{\"ids\":[1,4,5]}\n");
    }

    /** An agent that prunes at random (but at the target sparsity): the outlier a trimmed vote should drop. */
    static MaskEngine randomPruner(long seed, double sparsity) {
        return (request, progress) -> {
            Map<String, BitMask> honest = new MagnitudeMaskEngine().computeMasks(request, progress);
            Map<String, BitMask> out = new LinkedHashMap<>();
            Random random = new Random(seed);
            honest.forEach((name, mask) -> {
                BitMask m = new BitMask(mask.length());
                long k = (long) (mask.length() * sparsity);
                while (m.cardinality() < k) {
                    m.set((long) (random.nextDouble() * mask.length()));
                }
                out.put(name, m);
            });
            return out;
        };
    }

    JsonNode runJob(String name, String extra, Map<String, MaskEngine> enginesByAgent) throws Exception {
        try (Federation fed = new Federation(dir.resolve(name))) {
            for (var e : enginesByAgent.entrySet()) {
                fed.startAgent(e.getKey(), data, dir.resolve(name + "-" + e.getKey()), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, e.getValue()));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse("""
                model: %s
                localPruner: magnitude
                localComparisonGroup: layer
                agentsPerRound: %d
                deadlineSeconds: 60
                %s
                """.formatted(model, enginesByAgent.size(), extra)));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            var out = JsonMapper.builder().build().createObjectNode();
            out.put("state", job.state());
            out.put("failure", job.failureReason());
            List<TaskRecord> tasks = fed.node.store().tasksOfJob(jobId);
            var t = out.putObject("tasks");
            for (TaskRecord task : tasks) {
                String agent = fed.node.store().agent(task.agentId()).orElseThrow().name();
                t.putObject(agent).put("state", task.state()).put("bytesUp", task.bytesUp()).put("error", task.error());
            }
            var rounds = fed.node.store().rounds(jobId);
            out.set("summary", rounds.get(0).summary() == null ? null : JsonMapper.builder().build().readTree(rounds.get(0).summary()));
            return out;
        }
    }

    @Test
    void trimmedVoteDropsTheOutlierAndReportsAgreement() throws Exception {
        Map<String, MaskEngine> agents = new LinkedHashMap<>();
        agents.put("honest-a", new MagnitudeMaskEngine());
        agents.put("honest-b", new MagnitudeMaskEngine());
        agents.put("honest-c", new MagnitudeMaskEngine());
        agents.put("random-d", randomPruner(1, 0.5));
        JsonNode r = runJob("trim", "sparsity: 0.5\ntrimFraction: 0.25", agents);
        assertEquals("COMPLETED", r.get("state").asString(), r.toString());
        JsonNode summary = r.get("summary");
        assertEquals(List.of("random-d"), List.of(summary.get("excluded").get(0).asString()));
        assertEquals(0.0, summary.get("agreement").get("honest-a").asDouble());
        assertTrue(summary.get("agreement").get("random-d").asDouble() > 0.3, summary.toString());
    }

    @Test
    void maskFarFromTheTargetSparsityIsRefused() throws Exception {
        Map<String, MaskEngine> agents = new LinkedHashMap<>();
        agents.put("honest", new MagnitudeMaskEngine());
        agents.put("sloppy", randomPruner(2, 0.6));
        JsonNode r = runJob("tolerance", "sparsity: 0.9\nquorum: 1\nsparsityTolerance: 0.05", agents);
        assertEquals("COMPLETED", r.get("state").asString(), r.toString());
        JsonNode sloppy = r.get("tasks").get("sloppy");
        assertEquals("REFUSED", sloppy.get("state").asString());
        assertTrue(sloppy.get("error").asString().contains("deviates from the target 0.900000"), sloppy.toString());
        // At 90% sparsity the masks travel entropy-coded: well under one bit per weight.
        long weights = 4L * 64 * 64 + 3L * 64 * 128 - 2L * 64 * 32;
        long bytesUp = r.get("tasks").get("honest").get("bytesUp").asLong();
        assertTrue(bytesUp * 8 < weights * 0.6, bytesUp * 8 + " bits for " + weights + " weights");
    }
}
