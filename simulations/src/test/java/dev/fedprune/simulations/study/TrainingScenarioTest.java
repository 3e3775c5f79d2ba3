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
}
