package dev.fedprune.simulations.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.ImageSet;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.simulations.study.TrainingScenario.Method;
import dev.fedprune.simulations.study.TrainingScenario.Run;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The training study's scenario parser, its data split, and the report it writes, on small generated images. */
class TrainingScenarioTest {
    @TempDir
    Path dir;

    /** Image {@code i} carries its own index in its first two pixels, so a split can be traced back. */
    static LabeledImages numbered(int count) {
        byte[] pixels = new byte[count * 784];
        byte[] labels = new byte[count];
        for (int i = 0; i < count; i++) {
            pixels[i * 784] = (byte) (i % 256);
            pixels[i * 784 + 1] = (byte) (i / 256);
            labels[i] = (byte) (i % 10);
        }
        return new LabeledImages(new ImageSet(count, 28, 28, pixels), labels, 10);
    }

    @BeforeEach
    void data() throws Exception {
        IdxWriter.write(dir.resolve("images"), FashionMnist.Split.TRAIN, numbered(400));
        IdxWriter.write(dir.resolve("images"), FashionMnist.Split.TEST, numbered(100));
    }

    TrainingScenario load(String yaml) throws Exception {
        return TrainingScenario.load(Files.writeString(dir.resolve("s.yaml"), "data: images\n" + yaml));
    }

    static void assertRefused(String fragment, org.junit.jupiter.api.function.Executable run) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, run);
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void readsTheStudyAndOrdersRunsWithDenseOnceAfterTheFirstDensity() throws Exception {
        TrainingScenario s = load("""
            agents: 4
            partition: {kind: dirichlet, alpha: 0.5, minSamples: 20}
            methods: [static_sparse, fedtiny, dense_fedavg]
            densities: [0.1, 0.02]
            channels: [4, 8]
            rounds: 6
            candidates: 3
            """);
        assertEquals(TrainingScenario.Partition.DIRICHLET, s.partition());
        assertEquals(20, s.minSamples());
        assertEquals(List.of(new Run(Method.STATIC_SPARSE, 0.1), new Run(Method.FEDTINY, 0.1), new Run(Method.DENSE_FEDAVG, 1.0),
                new Run(Method.STATIC_SPARSE, 0.02), new Run(Method.FEDTINY, 0.02)), s.runs());
        Map<String, Object> fedtiny = s.jobSpec(new Run(Method.FEDTINY, 0.02));
        assertEquals("fedtiny", fedtiny.get("variant"));
        assertEquals(0.02, fedtiny.get("density"));
        assertEquals(3, fedtiny.get("candidates"));
        assertEquals(0, fedtiny.get("evaluationImages")); // every held-out image: the slices make up the whole test set
        assertEquals(4, fedtiny.get("quorum"));
        Map<String, Object> dense = s.jobSpec(new Run(Method.DENSE_FEDAVG, 1.0));
        assertNull(dense.get("density"));
        assertNull(dense.get("candidates"));
        assertNull(s.jobSpec(new Run(Method.STATIC_SPARSE, 0.1)).get("blocks"));
    }

    @Test
    void errorsNameFileLineAndField() throws Exception {
        assertRefused("s.yaml:3: densitys: unknown key", () -> load("agents: 2\ndensitys: 0.1\n"));
        assertRefused("s.yaml:2: densities: each density must be in (0, 1]", () -> load("densities: [0.1, 0]\n"));
        assertRefused("s.yaml:2: methods: expected one of", () -> load("methods: [fedprox]\n"));
        assertRefused("s.yaml:4: partition.alpha: must be a finite number > 0", () -> load("partition:\n  kind: dirichlet\n  alpha: -1\n"));
        assertRefused("s.yaml:2: rounds: expected a whole number", () -> load("rounds: 2.5\n"));
        // The coordinator's own check, mapped back to the scenario's line: two blocks need two sparse layers per block at most.
        assertRefused("s.yaml:3: blocks: fedtiny: blocks: 3 blocks for 2 sparse layers", () -> load("channels: [4]\nblocks: 3\n"));
        assertRefused("s.yaml:1: data: no ", () -> TrainingScenario.load(Files.writeString(dir.resolve("s.yaml"), "data: nowhere\n")));
    }

    @Test
    void heldOutSlicesAreDisjointAndMakeUpTheWholeTestSet() throws Exception {
        TrainingScenario s = load("agents: 4\npartition: {kind: dirichlet, alpha: 0.5, minSamples: 20}\nchannels: [4, 8]\n");
        List<Path> dirs = new TrainingStudyRunner(s, dir.resolve("out"), dir.resolve("work"), new PrintStream(OutputStream.nullOutputStream())).partition();
        assertEquals(4, dirs.size());
        Set<Integer> seenTest = new HashSet<>();
        Set<Integer> seenTrain = new HashSet<>();
        for (Path d : dirs) {
            LabeledImages test = FashionMnist.load(d, FashionMnist.Split.TEST);
            LabeledImages train = FashionMnist.load(d, FashionMnist.Split.TRAIN);
            assertEquals(25, test.size());
            assertTrue(train.size() >= 20, "at least minSamples training images: " + train.size());
            for (int i = 0; i < test.size(); i++) {
                assertTrue(seenTest.add(index(test, i)), "test image in two slices");
            }
            for (int i = 0; i < train.size(); i++) {
                assertTrue(seenTrain.add(index(train, i)), "training image given to two agents");
            }
        }
        assertEquals(100, seenTest.size());
        assertEquals(400, seenTrain.size());
        // The same seed gives the same split.
        List<Path> again = new TrainingStudyRunner(s, dir.resolve("out2"), dir.resolve("work2"), new PrintStream(OutputStream.nullOutputStream())).partition();
        assertEquals(FashionMnist.load(dirs.get(2), FashionMnist.Split.TRAIN).size(), FashionMnist.load(again.get(2), FashionMnist.Split.TRAIN).size());
    }

    private static int index(LabeledImages images, int i) {
        byte[] p = images.images().pixels();
        return (p[i * 784] & 0xff) + 256 * (p[i * 784 + 1] & 0xff);
    }

    @Test
    void reportFollowsTheOutputContract() throws Exception {
        TrainingScenario s = load("agents: 4\nmethods: [static_sparse, fedtiny, dense_fedavg]\ndensities: [0.1]\nchannels: [4, 8]\nrounds: 2\n");
        List<TrainingRow> rows = List.of(
                new TrainingRow("static_sparse", 0.1, 4, 2, 0, "COMPLETED", null, 0.61, List.of(0.1, 0.5, 0.61), 0.1, null, 2048, 4096, 300_000_000L,
                        Map.of("top_k_buffer_bytes", 0L), 12.5, 0.8),
                new TrainingRow("fedtiny", 0.1, 4, 2, 0, "COMPLETED", null, 0.66, List.of(0.12, 0.55, 0.66), 0.1, "erk", 2100, 4500, 301_000_000L,
                        Map.of("top_k_buffer_bytes", 680L), 14.0, 0.9),
                new TrainingRow("dense_fedavg", 1.0, 4, 2, 0, "FAILED", "round 2 timed out", Double.NaN, List.of(0.1), Double.NaN, null, 9000, 9000,
                        -1, Map.of(), 3.0, Double.NaN));
        Path out = dir.resolve("report");
        TrainingReport.write(s, rows, out);
        JsonNode json = JsonMapper.builder().build().readTree(Files.readString(out.resolve("results.json")));
        assertEquals(3, json.size());
        for (JsonNode row : json) {
            for (String key : List.of("method", "density", "agents", "rounds", "accuracy", "bytes_up_per_agent", "agent_peak_bytes", "seed",
                    "accuracy_per_round")) {
                assertTrue(row.has(key), key + " in " + row);
            }
        }
        assertEquals("fedtiny", json.get(1).get("method").asString());
        assertEquals(0.66, json.get(1).get("accuracy").asDouble());
        assertEquals(3, json.get(1).get("accuracy_per_round").size());
        assertEquals(301_000_000L, json.get(1).get("agent_peak_bytes").asLong());
        assertTrue(json.get(2).get("accuracy").isNull(), "a failed run has no accuracy, not NaN");
        assertTrue(json.get(2).get("agent_peak_bytes").isNull());
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertEquals(4, csv.size());
        assertTrue(csv.get(0).startsWith("method,density,agents,rounds,seed,state,accuracy,"), csv.get(0));
        assertTrue(csv.get(2).startsWith("fedtiny,0.1000,4,2,0,COMPLETED,0.6600,"), csv.get(2));
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("Test accuracy per round, density 0.10"));
        assertTrue(html.contains("fedtiny d=0.10: 0.6600"), "the chart's points carry their values");
        assertTrue(html.endsWith("</html>\n"));

        // Redrawing from results.json gives the same results back.
        Path again = dir.resolve("again");
        TrainingReport.write(s, TrainingReport.read(out.resolve("results.json")), again);
        assertEquals(Files.readString(out.resolve("results.json")), Files.readString(again.resolve("results.json")));
        assertEquals(Files.readString(out.resolve("results.csv")), Files.readString(again.resolve("results.csv")));
    }

    @Test
    void fedMefMethodsTrainTheNsConvVggWithTheScenariosSapRatioAndExtrusion() throws Exception {
        TrainingScenario s = load("""
            agents: 4
            methods: [fedmef, fedmef_no_bae, fedmef_no_sap, fedtiny, static_sparse]
            densities: [0.1]
            channels: [4, 8]
            sapGamma: 0.3
            extrusionLambda: 0.02
            """);
        assertEquals(0.3, s.sapGamma());
        assertEquals(0.02, s.extrusionLambda());
        assertEquals(List.of(Method.FEDMEF, Method.FEDMEF_NO_BAE, Method.FEDMEF_NO_SAP, Method.FEDTINY, Method.STATIC_SPARSE), s.methods());
        Map<String, Object> fedmef = s.jobSpec(new Run(Method.FEDMEF, 0.1));
        assertEquals("fedmef", fedmef.get("variant"));
        assertEquals("nsconv_vgg", fedmef.get("architecture"));
        assertEquals(0.3, fedmef.get("sapGamma"));
        assertEquals(0.02, fedmef.get("extrusionLambda"));
        assertEquals(List.of(4, 8), fedmef.get("channels"));
        Map<String, Object> noBae = s.jobSpec(new Run(Method.FEDMEF_NO_BAE, 0.1));
        assertEquals("nsconv_vgg", noBae.get("architecture"));
        assertEquals(0.3, noBae.get("sapGamma"));
        assertNull(noBae.get("extrusionLambda"), "fedmef_no_bae has no extrusion");
        Map<String, Object> noSap = s.jobSpec(new Run(Method.FEDMEF_NO_SAP, 0.1));
        assertEquals("nsconv_vgg", noSap.get("architecture"));
        assertNull(noSap.get("sapGamma"), "fedmef_no_sap has no activation pruning");
        assertEquals(0.02, noSap.get("extrusionLambda"));
        for (Method other : List.of(Method.FEDTINY, Method.STATIC_SPARSE)) {
            Map<String, Object> spec = s.jobSpec(new Run(other, 0.1));
            assertEquals("small_vgg", spec.get("architecture"), other.label());
            assertNull(spec.get("sapGamma"));
            assertNull(spec.get("extrusionLambda"));
        }
        // What the coordinator makes of them: the same values, checked by its parser.
        for (Run run : s.runs()) {
            var t = dev.fedprune.coordinator.job.JobSpecParser.parse(JsonMapper.builder().build().writeValueAsString(s.jobSpec(run))).method(dev.fedprune.coordinator.job.SparseTrainingSpec.class);
            assertEquals(run.method().label(), t.variant().label());
            assertEquals(run.method() == Method.FEDMEF || run.method() == Method.FEDMEF_NO_BAE ? 0.3 : 0.0, t.sapGamma(), run.method().label());
        }

        TrainingScenario defaults = load("methods: [fedmef]\nchannels: [4, 8]\n");
        assertEquals(0.5, defaults.sapGamma());
        assertEquals(0.01, defaults.extrusionLambda());
        assertEquals(0.5, defaults.jobSpec(new Run(Method.FEDMEF, 0.1)).get("sapGamma"));
        assertEquals(0.0, load("methods: [fedmef]\nchannels: [4, 8]\nsapGamma: 0\n").jobSpec(new Run(Method.FEDMEF, 0.1)).get("sapGamma"));
    }

    @Test
    void refusesBadFedMefKeysNamingTheLine() throws Exception {
        assertRefused("s.yaml:3: sapGamma: expected a fraction in [0, 1)", () -> load("methods: [fedmef]\nsapGamma: 1\n"));
        assertRefused("s.yaml:3: sapGamma: expected a fraction in [0, 1)", () -> load("methods: [fedmef]\nsapGamma: -0.5\n"));
        assertRefused("s.yaml:2: sapGamma: expected a number, got 'half'", () -> load("sapGamma: half\n"));
        assertRefused("s.yaml:3: extrusionLambda: expected a finite number > 0", () -> load("methods: [fedmef]\nextrusionLambda: 0\n"));
        assertRefused("s.yaml:2: extrusionLambda: expected a finite number > 0", () -> load("extrusionLambda: -1\n"));
        assertRefused("s.yaml:2: methods: expected one of", () -> load("methods: [fedmef_no_nothing]\n"));
    }

    @Test
    void passesLocalEpochsMomentumAndWeightDecayToEveryJob() throws Exception {
        TrainingScenario s = load("methods: [static_sparse, fedmef]\ndensities: [0.02]\nlocalEpochs: 1\nmomentum: 0.9\nweightDecay: 0.0005\n");
        assertEquals("1 local epoch", s.localTraining());
        assertEquals("SGD, momentum 0.9, weight decay 5.0E-4", s.optimizer());
        for (TrainingScenario.Run run : s.runs()) {
            var t = dev.fedprune.coordinator.job.JobSpecParser.parse(JsonMapper.builder().build().writeValueAsString(s.jobSpec(run))).method(dev.fedprune.coordinator.job.SparseTrainingSpec.class);
            assertEquals(1, t.localEpochs());
            assertEquals(0.9, t.momentum());
            assertEquals(0.0005, t.weightDecay());
        }
        assertRefused("s.yaml:3: localEpochs: give either localSteps", () -> load("localSteps: 5\nlocalEpochs: 1\n"));
        assertRefused("s.yaml:2: momentum: expected SGD momentum in [0, 1)", () -> load("momentum: 1.2\n"));
        assertRefused("s.yaml:2: weightDecay: expected a finite number >= 0", () -> load("weightDecay: -1\n"));
    }

    @Test
    void fedMefStudyScenarioMatchesTheFedTinyStudyExceptMethodsAndFedMefKeys() throws Exception {
        Path fedmefFile = Path.of("..", "scenarios", "fedmef-fashion-mnist.yaml");
        Path fedtinyFile = Path.of("..", "scenarios", "fedtiny-fashion-mnist.yaml");
        org.junit.jupiter.api.Assumptions.assumeTrue(FashionMnist.isPresent(FashionMnist.DEBIAN_DIRECTORY),
                "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        TrainingScenario fedmef = TrainingScenario.load(fedmefFile);
        TrainingScenario fedtiny = TrainingScenario.load(fedtinyFile);
        assertEquals(List.of(Method.FEDMEF, Method.FEDMEF_NO_BAE, Method.FEDMEF_NO_SAP, Method.FEDTINY, Method.STATIC_SPARSE), fedmef.methods());
        assertEquals(List.of(0.1, 0.02), fedmef.densities());
        assertEquals(0.5, fedmef.sapGamma());
        assertEquals(0.01, fedmef.extrusionLambda());
        assertEquals(fedtiny.data(), fedmef.data());
        assertEquals(List.of(fedtiny.agents(), fedtiny.partition(), fedtiny.alpha(), fedtiny.minSamples(), fedtiny.rounds(), fedtiny.localSteps(),
                        fedtiny.batchSize(), fedtiny.learningRate(), fedtiny.adjustAlpha(), fedtiny.adjustInterval(), fedtiny.adjustStopRound(),
                        fedtiny.blocks(), fedtiny.candidates(), fedtiny.seed(), fedtiny.deadlineSeconds(), fedtiny.memoryProbe()),
                List.of(fedmef.agents(), fedmef.partition(), fedmef.alpha(), fedmef.minSamples(), fedmef.rounds(), fedmef.localSteps(),
                        fedmef.batchSize(), fedmef.learningRate(), fedmef.adjustAlpha(), fedmef.adjustInterval(), fedmef.adjustStopRound(),
                        fedmef.blocks(), fedmef.candidates(), fedmef.seed(), fedmef.deadlineSeconds(), fedmef.memoryProbe()));
        assertEquals(java.util.Arrays.toString(fedtiny.channels()), java.util.Arrays.toString(fedmef.channels()));
        assertEquals(10, fedmef.runs().size());
    }

    static dev.fedprune.coordinator.store.Records.TaskRecord task(String id, int round, String agent) {
        return new dev.fedprune.coordinator.store.Records.TaskRecord(id, "job", round, agent, "SPARSE_UPDATE", "FOLDED", 0, 0L, 0L, 0, "", 1L, null, 1);
    }

    @Test
    void runnerGathersActivationAndPruneAccuracyMetricsPerAgentAndRound() {
        Map<String, Map<String, Double>> metrics = new java.util.HashMap<>();
        metrics.put("a0r0", Map.of("activation_peak_bytes", 1000.0, "activation_dense_bytes", 4000.0, "activation_bytes_measured", 1.0, "train_loss", 2.0));
        metrics.put("a0r2", Map.of("activation_peak_bytes", 1500.0, "activation_dense_bytes", 4000.0, "activation_bytes_measured", 1.0,
                "prune_accuracy_before", 0.6, "prune_accuracy_after", 0.5));
        metrics.put("a1r0", Map.of("activation_peak_bytes", 1200.0, "activation_dense_bytes", 4100.0, "activation_bytes_measured", 1.0));
        metrics.put("a1r2", Map.of("activation_peak_bytes", 900.0, "activation_dense_bytes", 4100.0, "activation_bytes_measured", 1.0,
                "prune_accuracy_before", 0.8, "prune_accuracy_after", 0.6));
        metrics.put("a1r4", Map.of("prune_accuracy_before", 0.9));
        // a task with no metrics at all (evaluation, or an older agent)
        var tasks = List.of(task("a0r0", 0, "agent-0"), task("a0r2", 2, "agent-0"), task("a1r0", 0, "agent-1"), task("a1r2", 2, "agent-1"),
                task("a1r4", 4, "agent-1"), task("eval", 5, "agent-0"));
        var result = new dev.fedprune.simulations.scenario.VirtualFederation.Result("job", "COMPLETED", null, null, null, tasks, 10, List.of(), metrics);
        TrainingStudyRunner.ActivationFigures f = TrainingStudyRunner.activationFigures(result, Map.of(0, 0, 2, 2, 4, 4));
        assertEquals(Map.of("agent-0", 1500L, "agent-1", 1200L), f.peak(), "the largest over each agent's tasks");
        assertEquals(Map.of("agent-0", 4000L, "agent-1", 4100L), f.dense());
        assertEquals(Boolean.TRUE, f.measured());
        assertEquals(2, f.adjustments().size());
        assertEquals(2, f.adjustments().get(0).round());
        assertEquals(0.7, f.adjustments().get(0).accuracyBeforePrune(), 1e-12);
        assertEquals(0.55, f.adjustments().get(0).accuracyAfterPrune(), 1e-12);
        assertEquals(4, f.adjustments().get(1).round());
        assertEquals(0.9, f.adjustments().get(1).accuracyBeforePrune(), 1e-12);
        assertTrue(Double.isNaN(f.adjustments().get(1).accuracyAfterPrune()), "nobody reported it");

        // One estimate makes the whole run's figures estimated; with ABNS rounds, the round is the training round t.
        metrics.put("a1r0", Map.of("activation_peak_bytes", 1200.0, "activation_bytes_measured", 0.0));
        TrainingStudyRunner.ActivationFigures est = TrainingStudyRunner.activationFigures(result, Map.of(2, 0, 4, 2));
        assertEquals(Boolean.FALSE, est.measured());
        assertEquals(List.of(0, 2), est.adjustments().stream().map(TrainingRow.Adjustment::round).toList());

        // Nothing reported: empty, no crash.
        TrainingStudyRunner.ActivationFigures none = TrainingStudyRunner.activationFigures(
                new dev.fedprune.simulations.scenario.VirtualFederation.Result("job", "FAILED", "x", null, null, tasks, 10, List.of(), Map.of()), Map.of());
        assertTrue(none.peak().isEmpty() && none.dense().isEmpty() && none.adjustments().isEmpty());
        assertNull(none.measured());
    }

    @Test
    void reportCarriesActivationMemoryAndPruneAccuracyAndLeavesThemEmptyWhenAbsent() throws Exception {
        TrainingScenario s = load("agents: 2\nmethods: [fedmef, static_sparse]\ndensities: [0.1]\nchannels: [4, 8]\nrounds: 2\n");
        List<TrainingRow> rows = List.of(
                new TrainingRow("fedmef", 0.1, 2, 2, 0, "COMPLETED", null, 0.7, List.of(0.1, 0.5, 0.7), 0.1, null, 2048, 4096, -1,
                        Map.of("top_k_buffer_bytes", 80L), 12.5, 0.8, Map.of("agent-1", 1200L, "agent-0", 1500L), Map.of("agent-0", 4000L, "agent-1", 4100L),
                        true, List.of(new TrainingRow.Adjustment(2, 0.7, 0.55), new TrainingRow.Adjustment(4, 0.9, Double.NaN))),
                new TrainingRow("static_sparse", 0.1, 2, 2, 0, "COMPLETED", null, 0.6, List.of(0.1, 0.4, 0.6), 0.1, null, 2000, 4000, 300_000_000L,
                        Map.of("top_k_buffer_bytes", 0L), 11.0, 0.7));
        Path out = dir.resolve("report");
        TrainingReport.write(s, rows, out);
        JsonNode json = JsonMapper.builder().build().readTree(Files.readString(out.resolve("results.json")));
        JsonNode fedmef = json.get(0);
        assertEquals(1500L, fedmef.get("activation_peak_bytes").get("agent-0").asLong());
        assertEquals(1200L, fedmef.get("activation_peak_bytes").get("agent-1").asLong());
        assertEquals(4100L, fedmef.get("activation_dense_bytes").get("agent-1").asLong());
        assertTrue(fedmef.get("activation_bytes_measured").asBoolean());
        assertEquals(2, fedmef.get("adjustments").size());
        JsonNode first = fedmef.get("adjustments").get(0);
        assertEquals(2, first.get("round").asInt());
        assertEquals(0.7, first.get("accuracy_before_prune").asDouble());
        assertEquals(0.55, first.get("accuracy_after_prune").asDouble());
        assertTrue(fedmef.get("adjustments").get(1).get("accuracy_after_prune").isNull(), "NaN is written as null");
        // Every field the scripts read is still there.
        for (String key : List.of("method", "density", "agents", "rounds", "accuracy", "bytes_up_per_agent", "bytes_down_per_agent", "agent_peak_bytes",
                "seed", "state", "actual_density", "selected_allocation", "accuracy_per_round", "agent_memory", "wall_seconds", "agent_seconds_per_round")) {
            assertTrue(fedmef.has(key), key);
        }

        JsonNode plain = json.get(1);
        for (String key : List.of("activation_peak_bytes", "activation_dense_bytes", "activation_bytes_measured", "adjustments")) {
            assertTrue(plain.has(key), key + " present even when nobody reported it");
        }
        assertEquals(0, plain.get("activation_peak_bytes").size());
        assertTrue(plain.get("activation_peak_bytes").isObject());
        assertEquals(0, plain.get("activation_dense_bytes").size());
        assertTrue(plain.get("activation_bytes_measured").isNull());
        assertTrue(plain.get("adjustments").isArray() && plain.get("adjustments").isEmpty());

        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertTrue(csv.get(0).endsWith(",agent_seconds_per_round,activation_peak_bytes_max,activation_dense_bytes_max,activation_bytes_measured,"
                + "prune_accuracy_before_mean,prune_accuracy_after_mean,defence,poisoning"), csv.get(0));
        assertTrue(csv.get(1).endsWith(",1500,4100,true,0.8000,0.5500,none,none"), csv.get(1));
        assertTrue(csv.get(2).endsWith(",,,,,,none,none"), csv.get(2));
        assertEquals(csv.get(0).split(",", -1).length, csv.get(2).split(",", -1).length, "as many cells as columns");

        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("Activation memory per training task"), "the activation chart");
        assertTrue(html.contains("<td>1.5</td><td>4.0</td><td>0.8000</td><td>0.5500</td>"), "activation peak, dense cache and prune accuracies in the table");
        assertTrue(html.contains("<tr><td>fedmef d=0.10</td><td>2</td><td>0.7000</td><td>0.5500</td></tr>"), "the adjustment rounds");
        assertTrue(html.contains("NSConv VGG"));

        // Redrawing from results.json gives the same results back, and an old results.json without the new fields still reads.
        Path again = dir.resolve("again");
        TrainingReport.write(s, TrainingReport.read(out.resolve("results.json")), again);
        assertEquals(Files.readString(out.resolve("results.json")), Files.readString(again.resolve("results.json")));
        Path old = Files.writeString(dir.resolve("old.json"), "[{\"method\": \"fedtiny\", \"density\": 0.1, \"agents\": 2, \"rounds\": 2, \"seed\": 0,"
                + " \"accuracy\": 0.5, \"accuracy_per_round\": [0.5], \"agent_peak_bytes\": null}]");
        TrainingRow read = TrainingReport.read(old).get(0);
        assertTrue(read.activationPeakBytes().isEmpty() && read.activationDenseBytes().isEmpty() && read.adjustments().isEmpty());
        assertNull(read.activationBytesMeasured());
        assertEquals(-1, read.maxActivationPeakBytes());
    }
}
