package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.aggregation.sparsetrain.CandidatePool;
import dev.fedprune.aggregation.sparsetrain.DensityAllocation;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SmallVggCnnTest {
    private static final CnnConfig TINY = new CnnConfig(1, 28, new int[] {4, 8}, 10);

    /** 16 generated 28x28 images: class c is a bright horizontal bar at row 2c plus noise. */
    static float[][] batch() {
        SplittableRandom random = new SplittableRandom(1);
        float[] pixels = new float[16 * 28 * 28];
        int[] labels = new int[16];
        for (int i = 0; i < 16; i++) {
            labels[i] = i % 4;
            for (int p = 0; p < 28 * 28; p++) {
                pixels[i * 784 + p] = (float) (0.1 * random.nextDouble());
            }
            for (int c = 0; c < 28; c++) {
                pixels[i * 784 + (4 + 6 * labels[i]) * 28 + c] = 1f;
            }
        }
        float[] l = new float[16];
        for (int i = 0; i < 16; i++) {
            l[i] = labels[i];
        }
        return new float[][] {pixels, l};
    }

    static int[] labels(float[] l) {
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = (int) l[i];
        }
        return out;
    }

    /** ERK keep-masks at density 0.3 from the model's own initial weights. */
    static void applyErkMasks(MaskedCnn cnn) {
        List<LayerShape> layers = cnn.sparseLayers();
        double[] densities = DensityAllocation.erk(layers, 0.3);
        int[] counts = DensityAllocation.keptCounts(layers, densities, DensityAllocation.budget(layers, 0.3));
        List<float[]> init = new ArrayList<>();
        for (LayerShape l : layers) {
            init.add(cnn.weights(l.name()));
        }
        List<BitMask> masks = CandidatePool.keepMasks(init, counts);
        for (int i = 0; i < layers.size(); i++) {
            cnn.setKeepMask(layers.get(i).name(), masks.get(i));
        }
    }

    @Test
    void maskedTrainingKeepsInactiveWeightsExactlyZeroAndLowersTheLoss() {
        float[][] b = batch();
        try (SmallVggCnn cnn = new SmallVggCnn(TINY, 7, Device.cpu())) {
            applyErkMasks(cnn);
            float first = cnn.trainStep(b[0], labels(b[1]), 0.1f);
            float last = first;
            for (int step = 0; step < 15; step++) {
                last = cnn.trainStep(b[0], labels(b[1]), 0.1f);
                for (LayerShape layer : cnn.sparseLayers()) {
                    float[] w = cnn.weights(layer.name());
                    BitMask keep = cnn.keepMask(layer.name());
                    for (int i = 0; i < w.length; i++) {
                        if (!keep.get(i)) {
                            assertEquals(0, Float.floatToRawIntBits(w[i]), layer.name() + "[" + i + "] is " + w[i] + " after step " + step);
                        }
                    }
                    assertTrue(keep.cardinality() < w.length);
                }
            }
            assertTrue(last < first * 0.7, "loss " + first + " -> " + last);
        }
    }

    @Test
    void sameSeedSameModelBitForBit() {
        float[][] b = batch();
        float[][] runs = new float[2][];
        for (int r = 0; r < 2; r++) {
            try (SmallVggCnn cnn = new SmallVggCnn(TINY, 3, Device.cpu())) {
                applyErkMasks(cnn);
                for (int step = 0; step < 3; step++) {
                    cnn.trainStep(b[0], labels(b[1]), 0.05f);
                }
                runs[r] = cnn.weights("conv1.weight");
            }
        }
        assertArrayEquals(runs[0], runs[1]);
    }

    @Test
    void topKGradientsLieAtInactiveWeightsAndChangeNothing() {
        float[][] b = batch();
        try (SmallVggCnn cnn = new SmallVggCnn(TINY, 5, Device.cpu())) {
            applyErkMasks(cnn);
            cnn.trainStep(b[0], labels(b[1]), 0.1f);
            float[] before = cnn.weights("fc.weight");
            var statsBefore = cnn.batchNormStatistics();
            Map<String, SparseTensor> top = cnn.topKInactiveGradients(b[0], labels(b[1]), Map.of("fc.weight", 25, "conv1.weight", 10));
            assertArrayEquals(before, cnn.weights("fc.weight"));
            assertEquals(statsBefore, cnn.batchNormStatistics());
            for (Map.Entry<String, SparseTensor> e : top.entrySet()) {
                BitMask keep = cnn.keepMask(e.getKey());
                assertEquals(e.getKey().equals("fc.weight") ? 25 : 10, e.getValue().nonZeroCount());
                assertEquals(null, e.getValue().problem());
                for (int i : e.getValue().indices()) {
                    assertFalse(keep.get(i), e.getKey() + " index " + i + " is active");
                }
                for (float v : e.getValue().values()) {
                    assertTrue(v != 0);
                }
            }
            assertEquals(top, cnn.topKInactiveGradients(b[0], labels(b[1]), Map.of("fc.weight", 25, "conv1.weight", 10)));
            // Only the requested layers get gradients; a layer's gradient does not depend on which others are asked for.
            assertEquals(Map.of("conv1.weight", top.get("conv1.weight")), cnn.topKInactiveGradients(b[0], labels(b[1]), Map.of("conv1.weight", 10)));
        }
    }

    @Test
    void batchNormRecalibrationIsACumulativeAverageOverBatches() {
        float[][] b = batch();
        try (SmallVggCnn cnn = new SmallVggCnn(TINY, 5, Device.cpu())) {
            applyErkMasks(cnn);
            MaskedCnn.LabeledBatch batch = new MaskedCnn.LabeledBatch(b[0], labels(b[1]));
            cnn.recalibrateBatchNorm(List.of(batch));
            Map<String, BnStatistics> once = cnn.batchNormStatistics();
            cnn.recalibrateBatchNorm(List.of(batch, batch, batch));
            Map<String, BnStatistics> thrice = cnn.batchNormStatistics();
            for (String layer : once.keySet()) {
                assertArrayEquals(once.get(layer).mean(), thrice.get(layer).mean(), 1e-5f);
                assertArrayEquals(once.get(layer).variance(), thrice.get(layer).variance(), 1e-4f);
            }
            float[] zero = new float[4];
            float[] two = {2, 2, 2, 2};
            Map<String, BnStatistics> installed = new java.util.LinkedHashMap<>(once);
            installed.put("bn0", new BnStatistics(zero, two));
            cnn.setBatchNormStatistics(installed);
            assertEquals(new BnStatistics(zero, two), cnn.batchNormStatistics().get("bn0"));
            float[] eval = cnn.evaluate(b[0], labels(b[1]));
            assertTrue(Float.isFinite(eval[0]) && eval[1] >= 0 && eval[1] <= 1);
        }
    }
}
