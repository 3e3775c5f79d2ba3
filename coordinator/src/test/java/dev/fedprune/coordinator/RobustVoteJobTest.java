package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.prune.MaskVoteHandler;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
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

    /** The honest magnitude mask, inverted: it prunes exactly the weights the others keep (the same sparsity at 0.5). */
    static MaskEngine invertedPruner() {
        return (request, progress) -> {
            Map<String, BitMask> out = new LinkedHashMap<>();
            new MagnitudeMaskEngine().computeMasks(request, progress).forEach((name, mask) -> {
                BitMask m = new BitMask(mask.length());
                for (long i = 0; i < mask.length(); i++) {
                    if (!mask.get(i)) {
                        m.set(i);
                    }
                }
                out.put(name, m);
            });
            return out;
        };
    }

    /** The agent's own mask-vote handler, claiming a million calibration samples. */
    static TaskHandlers inflatedSamples() {
        MaskVoteHandler honest = new MaskVoteHandler();
        return TaskHandlers.of(List.of(new TaskHandler() {
            @Override
            public java.util.Set<TaskKind> kinds() {
                return honest.kinds();
            }

            @Override
            public Task.SpecCase spec() {
                return honest.spec();
            }

            @Override
            public Contribution handle(Task task, TaskContext context) throws java.io.IOException {
                return honest.handle(task, context).toBuilder().setSampleCount(1_000_000).build();
            }
        }));
    }

    JsonNode runJob(String name, String extra, Map<String, MaskEngine> enginesByAgent) throws Exception {
        return runJob(name, extra, enginesByAgent, Map.of());
    }

    JsonNode runJob(String name, String extra, Map<String, MaskEngine> enginesByAgent, Map<String, TaskHandlers> handlers) throws Exception {
        try (Federation fed = new Federation(dir.resolve(name))) {
            for (var e : enginesByAgent.entrySet()) {
                AgentLoop.Options options = new AgentLoop.Options(e.getKey(), data, true, 60_000, 1);
                if (handlers.containsKey(e.getKey())) {
                    options = options.withHandlers(handlers.get(e.getKey()));
                }
                fed.startAgent(dir.resolve(name + "-" + e.getKey()), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, e.getValue()), options);
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
            if (job.resultDir() != null) {
                out.set("report", JsonMapper.builder().build().readTree(Files.readString(Path.of(job.resultDir()).resolve("report.json"))));
            }
            return out;
        }
    }

    /** Three honest magnitude pruners and one odd agent, in that order. */
    static Map<String, MaskEngine> threeHonestAnd(String odd, MaskEngine engine) {
        Map<String, MaskEngine> agents = new LinkedHashMap<>();
        for (String name : List.of("honest-a", "honest-b", "honest-c")) {
            agents.put(name, new MagnitudeMaskEngine());
        }
        agents.put(odd, engine);
        return agents;
    }

    @Test
    void trimmedVoteDropsTheOutlierAndReportsAgreement() throws Exception {
        Map<String, MaskEngine> agents = threeHonestAnd("random-d", randomPruner(1, 0.5));
        JsonNode r = runJob("trim", "sparsity: 0.5\ntrimFraction: 0.25", agents);
        assertEquals("COMPLETED", r.get("state").asString(), r.toString());
        JsonNode summary = r.get("summary");
        assertEquals(List.of("random-d"), List.of(summary.get("excluded").get(0).asString()));
        assertEquals(0.0, summary.get("agreement").get("honest-a").asDouble());
        assertTrue(summary.get("agreement").get("random-d").asDouble() > 0.3, summary.toString());
    }

    @Test
    void theSampleCapKeepsAnInflatedSampleCountFromDictatingTheMask() throws Exception {
        Map<String, MaskEngine> agents = threeHonestAnd("liar", invertedPruner());
        Map<String, TaskHandlers> liar = Map.of("liar", inflatedSamples());
        JsonNode uncapped = runJob("uncapped", "sparsity: 0.5\nvoteWeighting: samples", agents, liar);
        assertEquals("COMPLETED", uncapped.get("state").asString(), uncapped.toString());
        assertEquals(1.0, uncapped.get("summary").get("agreement").get("honest-a").asDouble(), 1e-9, "the liar's mask won");
        assertEquals(null, uncapped.get("summary").get("defence"));

        JsonNode capped = runJob("capped", "sparsity: 0.5\nvoteWeighting: samples\nsampleCap: 2", agents, liar);
        assertEquals("COMPLETED", capped.get("state").asString(), capped.toString());
        assertEquals(0.0, capped.get("summary").get("agreement").get("honest-a").asDouble(), 1e-9, "the honest mask won");
        JsonNode defence = capped.get("summary").get("defence");
        assertEquals("[\"liar\"]", defence.get("capped").toString(), defence.toString());
        assertEquals(4, defence.get("sampleCap").asLong(), "2 x the median report of 2 calibration samples");
        assertEquals(defence, capped.get("report").get("rounds").get(0).get("defence"), "the job report repeats it");
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
