package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.agent.task.AgentLoop;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * FedSpaLLM end to end: a coordinator and three agents over real gRPC with mTLS on a generated 4-layer
 * LLaMA, each agent reporting a different memory. The coordinator sends each agent the layers its memory
 * holds, agents run SparseGPT and return only those layers, and the pruned model meets the target sparsity
 * exactly; agents whose memory cannot cover the model get a refusal that names the uncovered layers.
 */
class FedSpaLlmJobTest {
    static final tools.jackson.databind.json.JsonMapper JSON = FederatedJobTest.JSON;
    /** One decoder layer of the model below on an agent: F32 weights and d_in x d_in factors of its seven matrices. */
    static final long LAYER_BYTES = 4L * ((1024 + 512 + 512 + 1024 + 2048 + 2048 + 2048) + (6 * 32 * 32 + 64 * 64));
    /** A generated 4-layer LLaMA (hidden 32, intermediate 64, 4 query and 2 key/value heads), written once for the class. */
    static Path model;

    @BeforeAll
    static void generateModel(@TempDir Path modelDir) throws Exception {
        SyntheticLlama.write(modelDir, new SyntheticLlama.Shape(4, 32, 64, 4, 2, 50, 32, true, DType.F32), 7);
        model = modelDir;
    }

    @TempDir
    Path dir;

    static String spec(double sparsity, int minCoverage) {
        return """
            name: spallm
            method: fedspallm
            model: %s
            sparsity: %s
            minLayerCoverage: %d
            calibrationSamples: 4
            sequenceLength: 8
            agentsPerRound: 3
            deadlineSeconds: 120
            seed: 5
            """.formatted(model, sparsity, minCoverage);
    }

    record Run(JobRecord job, JsonNode summary, Map<String, Set<Integer>> returnedLayers, String events) {
    }

    /** @param layersHeld how many layers each agent's reported memory holds (0: reports none) */
    Run run(String name, String spec, int... layersHeld) throws Exception {
        Path dataDir = dir.resolve(name);
        try (Federation fed = new Federation(dataDir, TestDatabase.h2(dataDir))) {
            for (int i = 0; i < layersHeld.length; i++) {
                StringBuilder docs = new StringBuilder();
                for (int d = 0; d < 4; d++) {
                    docs.append("{\"ids\":[").append((i * 7 + d) % 50).append(',').append((i * 3 + d * 5 + 1) % 50).append(",2,9,")
                            .append((d * 11 + i) % 50).append(",4,7,").append((i + d) % 50).append("]}\n");
                }
                Path data = Files.writeString(dir.resolve(name + "-data-" + i + ".jsonl"), docs);
                DeviceResources resources = DeviceResources.newBuilder().setCpuCores(1)
                        .setMemoryBytes(layersHeld[i] == 0 ? 0 : layersHeld[i] * LAYER_BYTES + 1000).build();
                fed.startAgent(fed.enrolledClient("agent-" + i, resources), dataDir.resolve("agent-" + i), new LlmMaskEngine().byMethod(),
                        new AgentLoop.Options("agent-" + i, data, true, 60_000, 1));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            JobRecord job = fed.awaitFinal(jobId, 180_000);
            String events = fed.node.store().events(jobId).toString();
            JsonNode summary = fed.node.store().round(jobId, 0).map(r -> r.summary() == null ? null : JSON.readTree(r.summary())).orElse(null);
            Map<String, Set<Integer>> returned = new HashMap<>();
            for (TaskRecord t : fed.node.store().tasks(jobId, 0)) {
                if (t.state().equals("FOLDED")) {
                    Contribution c = Contribution.parseFrom(fed.node.artifacts().read(dev.fedprune.coordinator.artifact.ArtifactStore.idOf(t.payloadSha256())));
                    String agentName = fed.node.store().agent(t.agentId()).orElseThrow().name();
                    Set<Integer> layers = new TreeSet<>();
                    c.getSparseUpdate().getTensorsList().forEach(s -> layers.add(PrunableTensors.layerIndex(s.getTensorName()).orElseThrow()));
                    returned.put(agentName, layers);
                }
            }
            return new Run(job, summary, returned, events);
        }
    }

    @Test
    void agentsPruneTheLayersTheirMemoryHoldsAndThePrunedModelMeetsTheTargetExactly() throws Exception {
        Run run = run("sampled", spec(0.5, 2), 2, 2, 0);
        assertEquals("COMPLETED", run.job().state(), () -> run.job().failureReason() + " " + run.events());

        // Layer sampling: agents 0 and 1 hold two layers each, agent 2 reported no memory and gets all four;
        // every layer is covered by exactly two agents, and each agent returned exactly its layers.
        Map<String, Set<Integer>> planned = new HashMap<>();
        run.summary().get("layersByAgent").properties().forEach(e -> {
            Set<Integer> layers = new TreeSet<>();
            e.getValue().forEach(l -> layers.add(l.asInt()));
            planned.put(e.getKey(), layers);
        });
        assertEquals(2, planned.get("agent-0").size());
        assertEquals(2, planned.get("agent-1").size());
        assertEquals(Set.of(0, 1, 2, 3), planned.get("agent-2"));
        assertEquals(List.of(2, 2, 2, 2), JSON.convertValue(run.summary().get("layerCoverage"), List.class));
        assertEquals(planned, run.returnedLayers(), "each agent returned only (and all of) the layers it was sent");
        Set<Integer> union = new TreeSet<>(planned.get("agent-0"));
        union.addAll(planned.get("agent-1"));
        assertEquals(Set.of(0, 1, 2, 3), union, "the two small agents split the model between them");
        assertEquals(0, run.summary().get("excessPrunedWeights").asLong());

        // Exactly (int) (n * 0.5) weights pruned in every matrix (comparison group: layer), and the model pruned there.
        Path result = Path.of(run.job().resultDir());
        Map<String, BitMask> mask = FederatedJobTest.readMasks(result);
        assertEquals(7 * 4, mask.size());
        JsonNode report = JSON.readTree(Files.readString(result.resolve("report.json")));
        assertEquals(0.5, report.get("overallSparsity").asDouble(), 0.0);
        assertEquals(report.get("targetPrunedWeights").asLong(), report.get("prunedWeights").asLong());
        try (Checkpoint original = Checkpoint.open(model); Checkpoint pruned = Checkpoint.open(result.resolve("model"))) {
            int changedKept = 0;
            for (TensorInfo info : original.infos()) {
                float[] o = original.readFloats(info.name());
                float[] w = pruned.readFloats(info.name());
                if (!PrunableTensors.isPrunable(info.name())) {
                    assertTrue(java.util.Arrays.equals(o, w), info.name() + " is not pruned and stays as it was");
                    continue;
                }
                BitMask m = mask.get(info.name());
                assertEquals(w.length / 2, m.cardinality(), info.name() + ": exactly the target");
                for (int i = 0; i < w.length; i++) {
                    if (m.get(i)) {
                        assertEquals(0f, w[i], info.name() + "[" + i + "] is pruned");
                    } else if (w[i] != o[i]) {
                        changedKept++;
                    }
                }
            }
            assertTrue(changedKept > 0, "kept weights carry SparseGPT's reconstruction, averaged over the agents that kept them");
        }
    }

    @Test
    void theSameSeedGivesTheSamePrunedModel() throws Exception {
        Run a = run("seeded-a", spec(0.6, 1), 1, 2, 3);
        Run b = run("seeded-b", spec(0.6, 1), 1, 2, 3);
        assertEquals("COMPLETED", a.job().state(), () -> a.job().failureReason() + " " + a.events());
        assertEquals(a.summary().get("layersByAgent"), b.summary().get("layersByAgent"));
        try (Checkpoint x = Checkpoint.open(Path.of(a.job().resultDir()).resolve("model"));
             Checkpoint y = Checkpoint.open(Path.of(b.job().resultDir()).resolve("model"))) {
            for (TensorInfo info : x.infos()) {
                assertTrue(java.util.Arrays.equals(x.readFloats(info.name()), y.readFloats(info.name())), info.name());
            }
        }
    }

    @Test
    void agentsWhoseMemoryCannotCoverTheModelAreRefusedWithTheUncoveredLayers() throws Exception {
        Run run = run("refused", spec(0.5, 1), 1, 1, 1);
        assertEquals("FAILED", run.job().state());
        String reason = run.job().failureReason();
        assertTrue(reason.contains("layer sampling") && reason.contains("would be covered by 0 agents") && reason.contains("the job needs 1"), reason);
        assertTrue(reason.matches(".*layer [0-3] would be covered by 0 agents.*"), reason);
        assertTrue(reason.contains("agent-0: 1") && reason.contains("one layer needs " + LAYER_BYTES + " bytes"), reason);
        assertEquals(List.of(), new ArrayList<>(run.returnedLayers().keySet()), "no task was issued");
    }
}
