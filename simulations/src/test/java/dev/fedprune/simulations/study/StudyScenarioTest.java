package dev.fedprune.simulations.study;

import dev.fedprune.agent.prune.LlmMaskEngine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.simulations.scenario.Scenario;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyScenarioTest {
    @TempDir
    Path dir;

    @BeforeEach
    void model() throws Exception {
        SyntheticLlama.write(dir.resolve("model"), new SyntheticLlama.Shape(2, 16, 32, 2, 1, 20, 16, true, DType.F32), 4);
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            data.append("{\"category\": \"c").append(i % 3).append("\", \"ids\": [1, 5, 6, 7]}\n");
        }
        Files.writeString(dir.resolve("calib.jsonl"), data);
    }

    StudyScenario load(String yaml) throws Exception {
        return StudyScenario.load(Files.writeString(dir.resolve("s.yaml"), yaml));
    }

    static void assertRefused(String fragment, org.junit.jupiter.api.function.Executable run) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, run);
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void readsListsAndSingleValues() throws Exception {
        StudyScenario s = load("""
            model: model
            calibration: calib.jsonl
            agents: [2, 3]
            partition: {kind: dirichlet, alpha: 0.3}
            methods: [centralized, fedprllm_oneshot]
            sparsities: 0.5
            weightScaling: [false, true]
            failures: {dropoutFraction: 0.25, stragglerDelaySeconds: 1}
            """);
        assertEquals(List.of(2, 3), s.agents());
        assertEquals(Scenario.Partition.DIRICHLET, s.partition());
        assertEquals(0.3, s.alpha());
        assertEquals(List.of(0.5), s.sparsities());
        assertEquals(List.of(false, true), s.weightScaling());
        assertEquals(0.25, s.failures().dropoutFraction());
    }

    @Test
    void errorsNameFileLineAndField() throws Exception {
        assertRefused("s.yaml:3: sparsitys: unknown key", () -> load("model: model\ncalibration: calib.jsonl\nsparsitys: 0.5\n"));
        assertRefused("s.yaml:3: sparsities: each sparsity must be in [0, 1)", () -> load("model: model\ncalibration: calib.jsonl\nsparsities: [0.5, 1]\n"));
        assertRefused("s.yaml:2: calibration: no file", () -> load("model: model\ncalibration: missing.jsonl\n"));
        assertRefused("s.yaml:4: failures.dropout: unknown key", () -> load("model: model\ncalibration: calib.jsonl\nfailures:\n  dropout: 0.1\n"));
        assertRefused("s.yaml:3: methods: expected one of", () -> load("model: model\ncalibration: calib.jsonl\nmethods: [fedavg]\n"));
    }

    @Test
    void impossiblePartitionIsRefusedBeforeAnyRun() throws Exception {
        assertRefused("s.yaml:3: agents: 20 agents with at least 1 samples each need 20 samples",
                () -> load("model: model\ncalibration: calib.jsonl\nagents: [2, 20]\nmethods: [local_only]\nlocalPruner: magnitude\n"));
        // A category split needs as many categories as agents: found when the partitions are made, still before any run.
        StudyScenario s = load("model: model\ncalibration: calib.jsonl\nagents: [2, 4]\npartition: category\nmethods: [local_only]\nlocalPruner: magnitude\n");
        StudyRunner runner = new StudyRunner(s, dir.resolve("out"), (m, d) -> { throw new AssertionError("nothing may run"); },
                new LlmMaskEngine().byMethod(), new PrintStream(java.io.OutputStream.nullOutputStream()));
        assertRefused("3 categories cannot be split between 4 agents", runner::run);
    }

    @Test
    void failuresAreAssignedFromTheSeedAndNeverAllAgentsDropOut() {
        var f = new StudyScenario.Failures(0.99, 0, 0, 0);
        var a = StudyRunner.assignFailures(4, f, 1);
        org.junit.jupiter.api.Assertions.assertArrayEquals(a, StudyRunner.assignFailures(4, f, 1));
        long dropouts = java.util.Arrays.stream(a).filter(x -> x == dev.fedprune.simulations.scenario.VirtualFederation.Failure.DROPOUT).count();
        assertEquals(3, dropouts);
    }
}
