package dev.fedprune.coordinator.fedspallm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.job.FedSpaLlmSpec;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.method.HfModelDirectory;
import dev.fedprune.coordinator.round.AgentView;
import dev.fedprune.coordinator.round.RoundRefusedException;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.wire.SparseTensorWire;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** FedSpaLLM's coordinator side without agents: the per-agent tasks, what a fold refuses, hand-over and restart. */
class FedSpaLlmMethodTest {
    @TempDir
    Path dir;
    Path model;
    ArtifactStore artifacts;
    JobSpec job;
    FedSpaLlmMethod method;
    long layerBytes;
    final AgentView small = new AgentView("a", "small", 0);
    final AgentView large = new AgentView("b", "large", 0);

    @BeforeEach
    void setUp() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(3, 16, 32, 2, 2, 40, 16, true, DType.F32), 3);
        artifacts = new ArtifactStore(dir.resolve("artifacts"));
        job = JobSpecParser.parse("method: fedspallm\nmodel: " + model + "\nsparsity: 0.5\nseed: 4\nagentsPerRound: 2");
        method = create();
        // q, k, v, o: 16x16; gate, up: 32x16; down: 16x32 — weights plus one d_in x d_in factor each, F32
        layerBytes = 4L * (4 * 256 + 3 * 512 + 6 * 256 + 1024);
    }

    FedSpaLlmMethod create() throws Exception {
        return new FedSpaLlmMethod(job.method(FedSpaLlmSpec.class), job.seed(), HfModelDirectory.load(model, artifacts), model, dir.resolve("job"));
    }

    AgentView agent(String id, int layers) {
        return new AgentView(id, "agent " + id, layers * layerBytes);
    }

    ContributionFile contribution(List<Integer> layers, double sparsity) throws Exception {
        SparseUpdate.Builder u = SparseUpdate.newBuilder();
        try (Checkpoint c = Checkpoint.open(model)) {
            for (int layer : layers) {
                for (var t : method.manifest().prunableTensors()) {
                    if (t.name().startsWith("model.layers." + layer + ".")) {
                        float[] w = c.readFloats(t.name());
                        for (int i = 0; i < (int) (w.length * sparsity); i++) {
                            w[i] = 0f;
                        }
                        u.addTensors(SparseTensorWire.encode(t.name(), SparseTensor.ofDense(w)));
                    }
                }
            }
        }
        Path file = Files.createTempFile(dir, "contribution", ".pb");
        Files.write(file, Contribution.newBuilder().setTaskId("t").setSampleCount(4).setSparseUpdate(u).build().toByteArray());
        return ContributionFile.open(file);
    }

    @Test
    void eachAgentsTaskNamesTheLayersItsMemoryHolds() {
        method.openRound(0, List.of(agent("a", 1), agent("b", 3)));
        Task a = method.taskTemplate(0, agent("a", 1)).build();
        Task b = method.taskTemplate(0, agent("b", 3)).build();
        assertEquals(TaskKind.TASK_KIND_SPARSE_LAYERS, a.getKind());
        assertEquals(1, a.getPrune().getLayerIndicesCount());
        assertEquals(List.of(0, 1, 2), b.getPrune().getLayerIndicesList());
        assertEquals(7, a.getPrune().getTensorNamesCount());
        assertEquals(0.5, a.getPrune().getSparsityRatio());
    }

    @Test
    void refusesARoundWhoseAgentsCannotCoverEveryLayer() {
        RoundRefusedException e = assertThrows(RoundRefusedException.class, () -> method.openRound(0, List.of(agent("a", 1), agent("b", 1))));
        assertTrue(e.getMessage().contains("would be covered by 0 agents") && e.getMessage().contains("agent a: 1"), e.getMessage());
    }

    @Test
    void refusesALayerTheAgentWasNotSentAndAMissingOne() throws Exception {
        method.openRound(0, List.of(agent("a", 1), agent("b", 3)));
        int mine = method.taskTemplate(0, agent("a", 1)).getPrune().getLayerIndices(0);
        int other = (mine + 1) % 3;
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> method.fold(0, "a", contribution(List.of(mine, other), 0.5)));
        assertTrue(e.getMessage().contains("layer " + other + " was not assigned to this agent"), e.getMessage());
        e = assertThrows(InvalidContributionException.class, () -> method.fold(0, "b", contribution(List.of(0, 1), 0.5)));
        assertTrue(e.getMessage().contains("missing 7 tensor(s)"), e.getMessage());
        e = assertThrows(InvalidContributionException.class, () -> method.fold(0, "a", contribution(List.of(mine), 0.2)));
        assertTrue(e.field().startsWith("sparse_update.tensors[model.layers." + mine + "."), e.field());
        assertTrue(e.getMessage().contains("keeps") && e.getMessage().contains("the job's target is 0.5 within 0.05"), e.getMessage());
        method.fold(0, "a", contribution(List.of(mine), 0.5));
        e = assertThrows(InvalidContributionException.class, () -> method.fold(0, "a", contribution(List.of(mine), 0.5)));
        assertTrue(e.getMessage().contains("already contributed"), e.getMessage());
    }

    @Test
    void aFailedAgentsLayersGoToASpareThatHoldsThemAndSurviveARestart() throws Exception {
        method.openRound(0, List.of(agent("a", 2), agent("b", 3)));
        List<Integer> work = method.taskTemplate(0, agent("a", 2)).getPrune().getLayerIndicesList();
        assertFalse(method.handOver(0, agent("a", 2), agent("c", 1)), "a spare holding one layer cannot take two");
        assertTrue(method.handOver(0, agent("a", 2), agent("c", 2)));
        assertEquals(work, method.taskTemplate(0, agent("c", 2)).getPrune().getLayerIndicesList());
        assertEquals(0, method.taskTemplate(0, agent("a", 2)).getPrune().getLayerIndicesCount());

        FedSpaLlmMethod restarted = create();
        restarted.openRound(0);
        assertEquals(work, restarted.taskTemplate(0, agent("c", 2)).getPrune().getLayerIndicesList());
        restarted.fold(0, "c", contribution(work, 0.5));
        restarted.fold(0, "b", contribution(List.of(0, 1, 2), 0.5));
        var summary = (FedSpaLlmMethod.LayerSummary) restarted.closeRound(0, id -> null).detail();
        assertEquals(Map.of("c", work, "b", List.of(0, 1, 2)), summary.layersByAgent());
        assertEquals(0, summary.excessPrunedWeights());
        var report = restarted.finish(Files.createDirectories(dir.resolve("result")));
        assertEquals(report.targetPrunedWeights(), report.prunedWeights());
        assertEquals(0.5, report.overallSparsity());
    }
}
