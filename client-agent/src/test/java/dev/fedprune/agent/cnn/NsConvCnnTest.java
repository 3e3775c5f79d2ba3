package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * FedMef's NSConv CNN and its layer-wise trainer with scaled activation pruning (algorithms.md 4.4
 * step 2, 4.5): the gradient check at {@code gamma = 0} against whole-graph autograd, exact input
 * gradients under pruning, NSConv's scale invariance, and the bytes held for backward.
 */
class NsConvCnnTest {

    /** Small and odd-sided (13 → 6 → 3) so that floor-mode pooling drops rows and columns. */
    private static final CnnConfig SMALL = new CnnConfig(1, 13, new int[] {4, 6}, 5);

    private static float[] pixels(int images, CnnConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[images * config.inputChannels() * config.side() * config.side()];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextInt(3) == 0 ? 0f : (float) random.nextGaussian();
        }
        return x;
    }

    private static int[] labels(int images, int classes, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] y = new int[images];
        for (int i = 0; i < images; i++) {
            y[i] = random.nextInt(classes);
        }
        return y;
    }

    /** A random keep-mask of about half the weights in every sparse layer. */
    private static void halfMasks(MaskedCnn cnn, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (LayerShape l : cnn.sparseLayers()) {
            BitMask keep = new BitMask(l.weightCount());
            for (int i = 0; i < l.weightCount(); i++) {
                if (random.nextBoolean()) {
                    keep.set(i);
                }
            }
            cnn.setKeepMask(l.name(), keep);
        }
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }

    private static double maxAbs(float[] a) {
        double max = 0;
        for (float v : a) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }

    @Test
    void gammaZeroInOneSliceGivesExactlyTheGradientsOfWholeGraphAutograd() {
        try (NsConvCnn cnn = new NsConvCnn(SMALL, 3, Device.cpu())) {
            halfMasks(cnn, 4);
            float[] x = pixels(10, SMALL, 5);
            int[] y = labels(10, SMALL.classes(), 6);
            cnn.setActivationPruning(0);
            cnn.setBackwardChunkRows(10);
            Map<String, float[]> expected = cnn.autogradGradients(x, y);
            Map<String, float[]> actual = cnn.layerwiseGradients(x, y);
            assertEquals(expected.keySet(), actual.keySet());
            expected.forEach((name, g) -> {
                assertTrue(maxAbs(g) > 0, name + " has a zero gradient: the check would prove nothing");
                assertEquals(0.0, maxAbsDifference(g, actual.get(name)), name + ": layer-wise against autograd");
            });
        }
    }

    @Test
    void slicesOfTheBatchOnlyReorderTheSums() {
        try (NsConvCnn cnn = new NsConvCnn(SMALL, 3, Device.cpu())) {
            halfMasks(cnn, 4);
            float[] x = pixels(10, SMALL, 5);
            int[] y = labels(10, SMALL.classes(), 6);
            Map<String, float[]> expected = cnn.autogradGradients(x, y);
            cnn.setBackwardChunkRows(3); // 3 + 3 + 3 + 1
            Map<String, float[]> actual = cnn.layerwiseGradients(x, y);
            expected.forEach((name, g) -> assertTrue(maxAbsDifference(g, actual.get(name)) <= 1e-5 * Math.max(1, maxAbs(g)),
                    name + " differs by " + maxAbsDifference(g, actual.get(name))));
        }
    }

    @Test
    void underPruningTheInputGradientsStayExactSoOnlyWeightGradientsChange() {
        // A bias gradient is the sum of its layer's output gradient, which reaches it through the exact
        // input gradients of the layers above: SAP must leave every bias gradient as it is, and change
        // the weight (and gain) gradients, which are computed from the pruned inputs.
        try (NsConvCnn cnn = new NsConvCnn(SMALL, 8, Device.cpu())) {
            float[] x = pixels(12, SMALL, 9);
            int[] y = labels(12, SMALL.classes(), 10);
            cnn.setBackwardChunkRows(12);
            Map<String, float[]> dense = cnn.autogradGradients(x, y);
            cnn.setActivationPruning(0.7);
            Map<String, float[]> pruned = cnn.layerwiseGradients(x, y);
            for (String bias : new String[] {"fc.bias", "conv1.bias", "conv0.bias"}) {
                assertEquals(0.0, maxAbsDifference(dense.get(bias), pruned.get(bias)), bias);
            }
            for (String weight : new String[] {"fc.weight", "conv1.weight", "conv0.weight"}) {
                assertTrue(maxAbsDifference(dense.get(weight), pruned.get(weight)) > 1e-4 * maxAbs(dense.get(weight)),
                        weight + " should be computed from the pruned input");
            }
        }
    }

    @Test
    void prunedCacheHoldsFewerBytesAsGammaGrowsAndTrainingStillLearns() {
        CnnConfig config = new CnnConfig(1, 28, new int[] {8, 16}, 10);
        long[] peaks = new long[3];
        double[] gammas = {0, 0.5, 0.9};
        for (int g = 0; g < gammas.length; g++) {
            try (NsConvCnn cnn = new NsConvCnn(config, 1, Device.cpu())) {
                cnn.setActivationPruning(gammas[g]);
                float[] x = pixels(16, config, 2);
                int[] y = labels(16, config.classes(), 3);
                float first = cnn.trainStep(x, y, 0.05f);
                float last = first;
                for (int s = 0; s < 15; s++) {
                    last = cnn.trainStep(x, y, 0.05f);
                }
                assertTrue(last < first, "gamma " + gammas[g] + ": loss on a repeated batch went from " + first + " to " + last);
                ActivationMemory m = cnn.lastStepMemory();
                peaks[g] = m.peakBytes();
                // conv0, conv1 and fc inputs as float32, plus the routing codes of both blocks.
                long inputs = 4L * 16 * (28 * 28 + 8 * 14 * 14 + 16 * 7 * 7);
                long routes = (16 * 8 * 14 * 14 + 1) / 2 + (16 * 16 * 7 * 7 + 1) / 2;
                assertEquals(inputs + routes, m.denseCacheBytes());
            }
        }
        assertTrue(peaks[0] > peaks[1] && peaks[1] > peaks[2], java.util.Arrays.toString(peaks));
    }

    @Test
    void nsConvMatchesTheReferenceStandardisationAndIgnoresTheScaleOfItsWeights() {
        try (NsConvCnn cnn = new NsConvCnn(SMALL, 11, Device.cpu())) {
            halfMasks(cnn, 12);
            float[] w = cnn.weights("conv1.weight");
            BitMask keep = cnn.keepMask("conv1.weight");
            LayerShape shape = cnn.sparseLayers().get(1);
            float[] reference = WeightStandardisation.standardise(w, shape, keep, WeightStandardisation.reluGains(6),
                    NsConvCnn.NSCONV_EPSILON).weights();
            float[] standardised;
            try (var m = ai.djl.ndarray.NDManager.newBaseManager(Device.cpu())) {
                float[] mask = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    mask[i] = keep.get(i) ? 1f : 0f;
                }
                standardised = NsConvCnn.standardised(m.create(w, new ai.djl.ndarray.types.Shape(shape.shape())),
                        m.create(mask, new ai.djl.ndarray.types.Shape(shape.shape())),
                        m.full(new ai.djl.ndarray.types.Shape(6), (float) WeightStandardisation.RELU_GAIN)).toFloatArray();
            }
            assertTrue(maxAbsDifference(reference, standardised) < 1e-5, "against WeightStandardisation: " + maxAbsDifference(reference, standardised));

            float[] x = pixels(4, SMALL, 13);
            int[] y = labels(4, SMALL.classes(), 14);
            float[] before = cnn.evaluate(x, y);
            for (String layer : new String[] {"conv0.weight", "conv1.weight"}) {
                float[] scaled = cnn.weights(layer);
                for (int i = 0; i < scaled.length; i++) {
                    scaled[i] *= 37f;
                }
                cnn.setWeights(layer, scaled);
            }
            float[] after = cnn.evaluate(x, y);
            assertEquals(before[0], after[0], 1e-3 * Math.abs(before[0]), "loss with conv weights x37");
            assertEquals(before[1], after[1], "accuracy with conv weights x37");
        }
    }

    @Test
    void poolingRoutesTheGradientAndBadGammaIsRefused() {
        // One 3x5 plane (odd sides: the last row and column are dropped by floor-mode pooling) gives 1x2 pooled
        // outputs: window 0 = {1, -2; 4, 0} has its maximum 4 at index 2 (code 3); window 1 = {-1, -3; -2, -5} is
        // not positive (code 0, value 0).
        float[] z = {1, -2, -1, -3, 9, 4, 0, -2, -5, 9, 9, 9, 9, 9, 9};
        MaxPoolRoutes.Pooled pooled = MaxPoolRoutes.poolAndRoute(z, new long[] {1, 1, 3, 5});
        assertArrayEquals(new float[] {4, 0}, pooled.values());
        assertEquals(3, MaxPoolRoutes.route(pooled.routes(), 0));
        assertEquals(0, MaxPoolRoutes.route(pooled.routes(), 1));
        // The gradient goes back to the maximum of a positive window only, zeros elsewhere (dropped row and column too).
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                MaxPoolRoutes.unpool(new float[] {7, 8}, pooled.routes(), new long[] {1, 1, 3, 5}, 0, 1));
        int[] codes = {0, 1, 2, 3, 4, 4, 0, 3, 1};
        byte[] packed = new byte[5];
        for (int o = 0; o < codes.length; o++) {
            MaxPoolRoutes.setRoute(packed, o, codes[o]);
        }
        for (int o = 0; o < codes.length; o++) {
            assertEquals(codes[o], MaxPoolRoutes.route(packed, o), "code " + o);
        }
        try (NsConvCnn cnn = new NsConvCnn(SMALL, 1, Device.cpu())) {
            for (double bad : new double[] {-0.1, 1.0, Double.NaN}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cnn.setActivationPruning(bad));
                assertTrue(e.getMessage().contains("[0, 1)"), e.getMessage());
            }
        }
    }

    @Test
    void extrusionInTheLayerWiseStepTouchesOnlyTheMarkedWeights() {
        float[] x = pixels(8, SMALL, 21);
        int[] y = labels(8, SMALL.classes(), 22);
        try (NsConvCnn plain = new NsConvCnn(SMALL, 20, Device.cpu()); NsConvCnn extruded = new NsConvCnn(SMALL, 20, Device.cpu())) {
            for (NsConvCnn cnn : new NsConvCnn[] {plain, extruded}) {
                halfMasks(cnn, 23);
                cnn.setActivationPruning(0.5);
            }
            Map<String, int[]> marks = new java.util.LinkedHashMap<>();
            for (LayerShape l : extruded.sparseLayers()) {
                marks.put(l.name(), dev.fedprune.aggregation.sparsetrain.fedmef.MarkedWeights.mark(
                        extruded.weights(l.name()), extruded.keepMask(l.name()), 3).indices());
            }
            extruded.setExtrusion(marks, 0.5f);
            Map<String, float[]> before = new java.util.LinkedHashMap<>();
            marks.keySet().forEach(layer -> before.put(layer, extruded.weights(layer)));
            plain.trainStep(x, y, 0.1f);
            extruded.trainStep(x, y, 0.1f);
            marks.forEach((layer, marked) -> {
                float[] a = plain.weights(layer);
                float[] b = extruded.weights(layer);
                java.util.Set<Integer> set = new java.util.HashSet<>();
                for (int i : marked) {
                    set.add(i);
                    // the penalty's step: −lr·2λθ = −0.1·θ on top of the task gradient's step
                    assertEquals(a[i] - 0.1f * before.get(layer)[i], b[i], 1e-6f, layer + "[" + i + "]");
                }
                for (int i = 0; i < a.length; i++) {
                    if (!set.contains(i)) {
                        assertEquals(Float.floatToIntBits(a[i]), Float.floatToIntBits(b[i]), layer + "[" + i + "] is not marked");
                    }
                }
            });
        }
    }

    @Test
    void wholeGraphCacheFromTheShapesOfTheSmallCnn() {
        // Per image: conv input, ReLU output (float32) and int64 pool indices per block, then the classifier input:
        // (3,136 + 50,176 + 25,088) + (12,544 + 25,088 + 12,544) + (6,272 + 12,544 + 4,608) + 2,304 = 154,304 bytes.
        assertEquals(64L * 154_304, CnnConfig.smallVgg().wholeGraphCacheBytes(64, 1));
        // BatchNorm keeps its input too: one more float32 copy of each conv output.
        assertEquals(64L * (154_304 + 4 * (16 * 784 + 32 * 196 + 64 * 49)), CnnConfig.smallVgg().wholeGraphCacheBytes(64, 2));
    }
}
