package dev.fedprune.simulations.study;

import dev.fedprune.agent.prune.LlmMaskEngine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.simulations.scenario.Scenario;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
        assertEquals(List.of(new DataSplit(Scenario.Partition.DIRICHLET, 0.3, 1)), s.partitions());
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
        assertRefused("s.yaml:3: methods[0]: expected one of", () -> load("model: model\ncalibration: calib.jsonl\nmethods: [fedavg]\n"));
        assertRefused("s.yaml:3: methods: expected one of", () -> load("model: model\ncalibration: calib.jsonl\nmethods: fedavg\n"));
        assertRefused("s.yaml:5: partitions[1].alpha: must be > 0",
                () -> load("model: model\ncalibration: calib.jsonl\npartitions:\n  - iid\n  - {kind: dirichlet, alpha: 0}\n"));
    }

    @Test
    void impossiblePartitionIsRefusedBeforeAnyRun() throws Exception {
        assertRefused("s.yaml:3: agents: 20 agents with at least 1 samples each need 20 samples",
                () -> load("model: model\ncalibration: calib.jsonl\nagents: [2, 20]\nmethods: [local_only]\nlocalPruner: magnitude\n"));
        // Twelve documents in three categories, each category nearly all on one agent: four agents never hold three each.
        // Found when the partitions are made, still before any run.
        StudyScenario s = load("model: model\ncalibration: calib.jsonl\nagents: [2, 4]\npartitions: [iid, {kind: dirichlet, alpha: 0.01, minSamples: 3}]\n"
                + "methods: [local_only]\nlocalPruner: magnitude\n");
        StudyRunner runner = new StudyRunner(s, dir.resolve("out"), (m, d) -> { throw new AssertionError("nothing may run"); },
                new LlmMaskEngine().byMethod(), new PrintStream(java.io.OutputStream.nullOutputStream()));
        assertRefused("no Dirichlet(0.01) split gives each of 4 agents at least 3 samples", runner::run);
    }

    @Test
    void federatedMethodsAreJobSpecFragmentsAndTheShorthandStillExpands() throws Exception {
        StudyScenario s = load("""
            model: model
            calibration: calib.jsonl
            agents: 2
            sparsities: [0.5, 0.7]
            comparisonGroups: [layer, row]
            methods:
              - centralized
              - fedprllm_oneshot
              - {name: fedprllm_row, spec: {method: fedprllm, comparisonGroup: row}}
              - name: no_local_group
                spec: {method: fedprllm, localComparisonGroup: null, tieBreak: lowest-index}
            """);
        assertEquals(List.of("centralized", "fedprllm_oneshot", "fedprllm_oneshot", "fedprllm_row", "no_local_group"),
                s.methods().stream().map(StudyMethod::name).toList());
        assertEquals(List.of("layer", "row", "row", ""), s.federatedMethods().stream().map(StudyMethod::comparisonGroup).toList());

        Map<String, Object> row = s.jobSpec(s.methods().get(3), "job", 2, 2, 60, 0.7, 3);
        assertEquals("fedprllm", row.get("method"));
        assertEquals("row", row.get("comparisonGroup"));
        assertEquals(0.7, row.get("sparsity"));
        assertEquals(3L, row.get("seed"));
        assertEquals("wanda", row.get("localPruner"));
        Map<String, Object> noGroup = s.jobSpec(s.methods().get(4), "job", 2, 2, 60, 0.5, 0);
        assertFalse(noGroup.containsKey("localComparisonGroup"), "a null in the fragment removes the study's default");
        assertEquals("lowest-index", noGroup.get("tieBreak"));
    }

    @Test
    void aGridCanBeRunInPieces() throws Exception {
        StudyScenario s = load("model: model\ncalibration: calib.jsonl\nagents: [2, 4]\nsparsities: [0.5, 0.7]\nseeds: [0, 1, 2]\n"
                + "partitions: [iid, category, {kind: dirichlet, alpha: 0.3}]\n");
        StudyScenario part = s.restrict(List.of(1L), List.of(), List.of(4), List.of("dirichlet-0.3", "iid"));
        assertEquals(List.of(1L), part.seeds());
        assertEquals(List.of(0.5, 0.7), part.sparsities());
        assertEquals(List.of(4), part.agents());
        assertEquals(List.of("iid", "dirichlet-0.3"), part.partitions().stream().map(DataSplit::label).toList());
        assertRefused("--agents: 8 is not in the scenario's grid [2, 4]", () -> s.restrict(List.of(), List.of(), List.of(8), List.of()));
        assertRefused("--partitions: dirichlet-0.5 is not in the scenario's grid", () -> s.restrict(List.of(), List.of(), List.of(), List.of("dirichlet-0.5")));
    }

    @Test
    void methodSpecsAreCheckedByTheCoordinatorBeforeAnyRun() throws Exception {
        String head = "model: model\ncalibration: calib.jsonl\nmethods:\n  - local_only\n";
        assertRefused("s.yaml:6: methods[1].spec.method: the coordinator refuses method later: method: expected",
                () -> load(head + "  - name: later\n    spec: {method: not-yet-a-method}\n"));
        assertRefused("s.yaml:6: methods[1].spec.comparisonGroup: the coordinator refuses method odd",
                () -> load(head + "  - name: odd\n    spec: {method: fedprllm, comparisonGroup: diagonal}\n"));
        assertRefused("s.yaml:6: methods[1].spec.sparsity: set by the study",
                () -> load(head + "  - name: fixed\n    spec: {method: fedprllm, sparsity: 0.5}\n"));
        assertRefused("s.yaml:5: methods[1].name: 'local_only' is already a method",
                () -> load(head + "  - name: local_only\n    spec: {method: fedprllm}\n"));
        assertRefused("s.yaml:5: methods[1].spec: required",  // a missing key: the line of its entry
                () -> load(head + "  - name: nospec\n"));
    }

    @Test
    void aStudyWithTwoPartitionsAndAGenericMethodWritesOneRowPerRun() throws Exception {
        StudyScenario s = load("""
            name: tiny
            model: model
            calibration: calib.jsonl
            agents: 4
            partitions: [iid, category]
            methods: [centralized, local_only, {name: by_row, spec: {method: fedprllm, comparisonGroup: row}}]
            sparsities: 0.5
            localPruner: magnitude
            localOnlyEvaluatedAgents: 2
            deadlineSeconds: 60
            """);
        List<StudyRow> rows = new StudyRunner(s, dir.resolve("out"), (m, d) -> new ModelEvaluator.Evaluation(7.0, Map.of(), 1),
                new LlmMaskEngine().byMethod(), new PrintStream(java.io.OutputStream.nullOutputStream())).run();
        assertEquals(List.of("centralized/none", "local_only/iid", "by_row/iid", "local_only/category", "by_row/category"),
                rows.stream().map(r -> r.method() + "/" + r.partition()).toList());
        for (StudyRow r : rows.subList(1, rows.size())) {
            assertEquals(4, r.agents());
        }
        StudyRow federated = rows.get(2);
        assertEquals("COMPLETED", federated.state());
        assertEquals("row", federated.comparisonGroup());
        assertTrue(federated.bytesPerAgent() > 0, "an agent uploads its mask");
        assertEquals(0.5, federated.actualSparsity(), 1e-9);
        // Results are on disk after every run, not only at the end.
        String json = Files.readString(dir.resolve("out/results.json"));
        assertTrue(json.contains("\"partition\" : \"category\""), json);
        assertTrue(Files.readString(dir.resolve("out/summary.md")).contains("**category**"));

        // What run --append reads back: the same rows; a row of the same setting replaces the earlier one.
        List<StudyRow> back = StudyReport.read(dir.resolve("out/results.json"));
        assertEquals(rows.stream().map(r -> List.of(r.method(), r.partition(), r.agents(), r.seed(), r.ppl(), Math.round(r.bytesPerAgent()))).toList(),
                back.stream().map(r -> List.of(r.method(), r.partition(), r.agents(), r.seed(), r.ppl(), Math.round(r.bytesPerAgent()))).toList());
        StudyRow again = new StudyRow("by_row", "iid", "row", false, 4, 0.5, "unstructured", 0, "COMPLETED", 6.0, Map.of(), 0.5,
                Map.of(), Map.of(), 1, Map.of(), 1, Map.of());
        StudyRow added = new StudyRow("later", "iid", "", false, 4, 0.5, "unstructured", 0, "COMPLETED", 6.5, Map.of(), 0.5,
                Map.of(), Map.of(), 1, Map.of(), 1, Map.of());
        List<StudyRow> merged = StudyReport.merge(back, List.of(again, added));
        assertEquals(6, merged.size());
        assertEquals(6.0, merged.get(2).ppl());
        assertEquals("later", merged.get(5).method());
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
