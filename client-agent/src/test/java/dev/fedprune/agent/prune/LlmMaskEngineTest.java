package dev.fedprune.agent.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.data.InvalidDataException;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlmMaskEngineTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path calibration;

    @BeforeAll
    static void writeModel() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, SyntheticLlama.Shape.tiny(), 9);
        calibration = dir.resolve("calib.jsonl");
        writeCalibration(calibration, 24, 259, 3);
    }

    static void writeCalibration(Path file, int lines, int vocab, long seed) throws Exception {
        Random random = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int l = 0; l < lines; l++) {
            StringBuilder sb = new StringBuilder("{\"category\": \"c" + (l % 3) + "\", \"ids\": [1");
            int n = 10 + random.nextInt(80); // some lines longer than max_position_embeddings (64)
            for (int i = 0; i < n; i++) {
                sb.append(", ").append(3 + random.nextInt(vocab - 3));
            }
            out.add(sb.append("]}").toString());
        }
        Files.write(file, out);
    }

    static MaskRequest request(PruneMethod method, double sparsity, boolean perRow, int n, int m, int samples, long seed,
                               List<String> tensors, int layer, Map<String, BitMask> prior) {
        return new MaskRequest(model, calibration, method, sparsity, perRow, n, m, samples, 0, seed, tensors, layer, prior);
    }

    @Test
    void sameSeedGivesTheSameMasksAndEveryRowHasExactlyK() throws Exception {
        LlmMaskEngine engine = new LlmMaskEngine();
        MaskRequest r = request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 8, 1, List.of(), -1, Map.of());
        Map<String, BitMask> a = engine.computeMasks(r, ProgressListener.NONE);
        Map<String, BitMask> b = engine.computeMasks(r, ProgressListener.NONE);
        assertEquals(14, a.size());
        assertEquals(a, b);
        BitMask q = a.get(PrunableTensors.tensorName(0, "self_attn.q_proj"));
        for (int row = 0; row < 64; row++) {
            assertEquals(32, q.cardinality(row * 64L, row * 64L + 64));
        }
        Map<String, BitMask> otherSeed = engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 8, 2, List.of(), -1, Map.of()), ProgressListener.NONE);
        assertNotEquals(a, otherSeed, "another sample of the calibration data changes some Wanda masks");
    }

    @Test
    void iterativeLayerWithOneShotPriorMasksEqualsOneShot() throws Exception {
        LlmMaskEngine engine = new LlmMaskEngine();
        Map<String, BitMask> oneShot = engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 0, 0, List.of(), -1, Map.of()), ProgressListener.NONE);
        Map<String, BitMask> prior = new HashMap<>();
        oneShot.forEach((k, v) -> {
            if (k.startsWith("model.layers.0.")) {
                prior.put(k, v);
            }
        });
        Map<String, BitMask> layer1 = engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 0, 0, List.of(), 1, prior), ProgressListener.NONE);
        assertEquals(7, layer1.size());
        layer1.forEach((k, v) -> assertEquals(oneShot.get(k), v, k));
    }

    @Test
    void subsetOfTensorsAndMagnitudeWithoutData() throws Exception {
        String down = PrunableTensors.tensorName(1, "mlp.down_proj");
        MaskRequest r = new MaskRequest(model, null, PruneMethod.PRUNE_METHOD_MAGNITUDE, 0.7, false, 0, 0, 0, 0, 0, List.of(down), -1, Map.of());
        Map<String, BitMask> masks = new LlmMaskEngine().computeMasks(r, ProgressListener.NONE);
        assertEquals(List.of(down), List.copyOf(masks.keySet()));
        assertEquals((long) (64 * 172 * 0.7), masks.get(down).cardinality());
    }

    @Test
    void sparseGptAndNmMasks() throws Exception {
        Map<String, BitMask> masks = new LlmMaskEngine().computeMasks(
                request(PruneMethod.PRUNE_METHOD_SPARSEGPT, 0.5, true, 2, 4, 8, 0, List.of(), -1, Map.of()), ProgressListener.NONE);
        for (BitMask m : masks.values()) {
            for (long g = 0; g < m.length(); g += 4) {
                assertEquals(2, m.cardinality(g, g + 4));
            }
        }
    }

    @Test
    void rejectsBadRequestsBeforeWork() {
        LlmMaskEngine engine = new LlmMaskEngine();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 1.0, true, 0, 0, 0, 0, List.of(), -1, Map.of()), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("[0, 1)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 4, 8, 0, 0, List.of(), -1, Map.of()), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("does not divide d_in = 172") && e.getMessage().contains("intermediate_size"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> engine.computeMasks(
                request(PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 0, 0, List.of("model.embed_tokens.weight"), -1, Map.of()),
                ProgressListener.NONE));
        assertTrue(e.getMessage().contains("not a prunable tensor"), e.getMessage());
    }

    @Test
    void rejectsEmptyAndOutOfVocabularyCalibration() throws Exception {
        Path empty = dir.resolve("empty.jsonl");
        Files.writeString(empty, "\n\n");
        Path oov = dir.resolve("oov.jsonl");
        Files.writeString(oov, "{\"ids\": [1, 2, 3]}\n{\"ids\": [1, 259]}\n");
        LlmMaskEngine engine = new LlmMaskEngine();
        InvalidDataException e = assertThrows(InvalidDataException.class, () -> engine.computeMasks(
                new MaskRequest(model, empty, PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 0, 0, 0, List.of(), -1, Map.of()),
                ProgressListener.NONE));
        assertTrue(e.getMessage().contains("empty.jsonl") && e.getMessage().contains("no samples"), e.getMessage());
        e = assertThrows(InvalidDataException.class, () -> engine.computeMasks(
                new MaskRequest(model, oov, PruneMethod.PRUNE_METHOD_WANDA, 0.5, true, 0, 0, 0, 0, 0, List.of(), -1, Map.of()),
                ProgressListener.NONE));
        assertTrue(e.getMessage().contains("oov.jsonl:2") && e.getMessage().contains("ids[1] = 259"), e.getMessage());
    }
}
