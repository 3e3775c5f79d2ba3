package dev.fedprune.aggregation.sparsetrain.fedmef;

import static dev.fedprune.aggregation.sparsetrain.fedmef.BudgetAwareExtrusionTest.assertMessage;
import static dev.fedprune.aggregation.sparsetrain.fedmef.BudgetAwareExtrusionTest.keep;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class WeightStandardisationTest {

    @Test
    void standardisesEachChannelOverItsActiveWeightsByHand() {
        // Two output channels of 4 inputs. Channel 0 active {0, 1, 3}: values 1, 3, 5 (the 100 is pruned).
        // μ = 3, s = √(8/3), s·√3 = √8, Ŵ = (W − 3)/√8 · g. Channel 1 all active: 2, 2, 4, 4, μ = 3, s = 1,
        // s·√4 = 2, Ŵ = (W − 3)/2 · g.
        float[] w = {1, 3, 100, 5, 2, 2, 4, 4};
        BitMask k = keep(1, 1, 0, 1, 1, 1, 1, 1);
        WeightStandardisation.Standardised r =
                WeightStandardisation.standardise(w, new LayerShape("fc", new long[] {2, 4}), k, new float[] {1f, 0.5f}, 0);
        float c = (float) (2 / Math.sqrt(8));
        assertArrayEquals(new float[] {-c, 0, 0, c, -0.25f, -0.25f, 0.25f, 0.25f}, r.weights(), 1e-7f);
        assertEquals(0f, r.weights()[2]);
        assertArrayEquals(new double[] {3, 3}, r.mean(), 1e-12);
        assertArrayEquals(new double[] {Math.sqrt(8.0 / 3), 1}, r.std(), 1e-12);
        assertArrayEquals(new int[] {3, 4}, r.activeCount());
    }

    @Test
    void epsilonEntersTheDenominatorAsDocumented() {
        float[] w = {2, 2, 4, 4};
        WeightStandardisation.Standardised r =
                WeightStandardisation.standardise(w, new LayerShape("fc", new long[] {1, 4}), keep(1, 1, 1, 1), new float[] {1f}, 0.5);
        // s·√N + ε = 2.5
        assertArrayEquals(new float[] {-0.4f, -0.4f, 0.4f, 0.4f}, r.weights(), 1e-7f);
    }

    @Test
    void activeWeightsHaveMeanZeroAndTheDocumentedNormInactiveStayZeroOnRandomConvLayers() {
        SplittableRandom random = new SplittableRandom(29);
        for (int trial = 0; trial < 100; trial++) {
            int out = 1 + random.nextInt(8);
            int in = 1 + random.nextInt(6);
            int kh = 1 + random.nextInt(3);
            LayerShape shape = new LayerShape("conv", new long[] {out, in, kh, kh});
            int n = shape.weightCount();
            int fanIn = n / out;
            float[] w = new float[n];
            BitMask k = new BitMask(n);
            double density = random.nextDouble();
            for (int i = 0; i < n; i++) {
                w[i] = (float) (random.nextGaussian() * 0.3 + 0.1);
                if (random.nextDouble() < density) {
                    k.set(i);
                }
            }
            float[] gains = new float[out];
            for (int o = 0; o < out; o++) {
                gains[o] = (float) (0.5 + random.nextDouble() * 2);
            }
            double epsilon = trial % 2 == 0 ? 0 : 1e-4;
            WeightStandardisation.Standardised r = WeightStandardisation.standardise(w, shape, k, gains, epsilon);
            for (int o = 0; o < out; o++) {
                double sum = 0;
                double squares = 0;
                int count = 0;
                for (int i = o * fanIn; i < (o + 1) * fanIn; i++) {
                    float v = r.weights()[i];
                    assertTrue(Float.isFinite(v), "trial " + trial + " index " + i);
                    if (k.get(i)) {
                        sum += v;
                        squares += (double) v * v;
                        count++;
                    } else {
                        assertEquals(0f, v, "trial " + trial + " inactive index " + i);
                    }
                }
                String what = "trial " + trial + " channel " + o + " with " + count + " active";
                assertEquals(count, r.activeCount()[o], what);
                if (count >= 2) {
                    double s = r.std()[o];
                    double expectedNorm = gains[o] * s * Math.sqrt(count) / (s * Math.sqrt(count) + epsilon);
                    assertEquals(0, sum / count, 1e-6 * gains[o], what + ": mean");
                    assertEquals(expectedNorm, Math.sqrt(squares), 1e-5 * gains[o], what + ": norm");
                    if (epsilon == 0) {
                        assertEquals(gains[o], Math.sqrt(squares), 1e-5 * gains[o], what + ": norm is the gain at ε = 0");
                    }
                } else {
                    assertEquals(0, squares, what + ": nothing to standardise");
                }
            }
        }
    }

    @Test
    void channelsWithOneOrNoActiveWeightOrNoSpreadGiveZerosNotNaN() {
        // Channel 0: one active weight; channel 1: none; channel 2: three equal active weights whose
        // double mean is not exactly the value (0.1f three times); channel 3: a normal one.
        float[] w = {7, 1, 2, 3, 5, 6, 0.1f, 0.1f, 0.1f, 1, 2, 3};
        BitMask k = keep(1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1);
        for (double epsilon : new double[] {0, 1e-5}) {
            WeightStandardisation.Standardised r =
                    WeightStandardisation.standardise(w, new LayerShape("fc", new long[] {4, 3}), k, WeightStandardisation.reluGains(4), epsilon);
            float[] v = r.weights();
            for (int i = 0; i < 9; i++) {
                assertEquals(0f, v[i], "epsilon " + epsilon + " index " + i);
            }
            assertTrue(v[9] < 0 && v[11] > 0 && v[10] == 0, "epsilon " + epsilon);
            assertArrayEquals(new int[] {1, 0, 3, 2}, r.activeCount());
            assertEquals(7, r.mean()[0]);
            assertEquals(0, r.std()[0]);
            assertEquals(0, r.std()[2]);
        }
    }

    @Test
    void outputIsInvariantToTheScaleOfTheWeights() {
        SplittableRandom random = new SplittableRandom(31);
        LayerShape shape = new LayerShape("conv", new long[] {6, 3, 3, 3});
        int n = shape.weightCount();
        float[] w = new float[n];
        BitMask k = new BitMask(n);
        for (int i = 0; i < n; i++) {
            w[i] = (float) random.nextGaussian();
            if (random.nextDouble() < 0.3) {
                k.set(i);
            }
        }
        float[] gains = WeightStandardisation.reluGains(6);
        float[] base = WeightStandardisation.standardise(w, shape, k, gains, 0).weights();
        // Powers of two scale exactly in floating point, so the output is bit-identical.
        for (float scale : new float[] {0.125f, 4f, 1024f}) {
            assertArrayEquals(base, WeightStandardisation.standardise(scaled(w, scale), shape, k, gains, 0).weights(), 0f, "scale " + scale);
        }
        for (float scale : new float[] {0.3f, 7.7f, 123.4f}) {
            assertArrayEquals(base, WeightStandardisation.standardise(scaled(w, scale), shape, k, gains, 0).weights(), 1e-5f, "scale " + scale);
        }
        // Shifting a channel's active weights by a constant does not change it either.
        float[] shifted = w.clone();
        for (int i = 0; i < n; i++) {
            shifted[i] += 3f;
        }
        assertArrayEquals(base, WeightStandardisation.standardise(shifted, shape, k, gains, 0).weights(), 1e-5f);
        assertArrayEquals(base, WeightStandardisation.standardise(w, shape, k, gains, 0).weights(), 0f, "same inputs, same result");
    }

    @Test
    void reluGainRestoresUnitVarianceAfterReLU() {
        assertEquals(1.7128585504496627, WeightStandardisation.RELU_GAIN, 1e-15);
        SplittableRandom random = new SplittableRandom(37);
        int samples = 1_000_000;
        double sum = 0;
        double squares = 0;
        for (int i = 0; i < samples; i++) {
            double y = WeightStandardisation.RELU_GAIN * Math.max(0, random.nextGaussian());
            sum += y;
            squares += y * y;
        }
        double mean = sum / samples;
        assertEquals(1.0, squares / samples - mean * mean, 0.01);
    }

    @Test
    void refusesBadArgumentsNamingThem() {
        LayerShape shape = new LayerShape("fc", new long[] {2, 2});
        BitMask k = keep(1, 1, 1, 1);
        float[] w = {1, 2, 3, 4};
        float[] g = {1, 1};
        assertMessage("epsilon must be finite and >= 0, got -1.0", () -> WeightStandardisation.standardise(w, shape, k, g, -1));
        assertMessage("gains has 1 values, shape fc[2, 2] has 2 output channels",
                () -> WeightStandardisation.standardise(w, shape, k, new float[] {1}, 0));
        assertMessage("weights has 3 values, shape fc[2, 2] needs 4",
                () -> WeightStandardisation.standardise(new float[3], shape, k, g, 0));
        assertMessage("keep-mask of 3 bits", () -> WeightStandardisation.standardise(w, shape, keep(1, 1, 1), g, 0));
        assertMessage("must be [out, in] or [out, in, kh, kw]",
                () -> WeightStandardisation.standardise(w, new LayerShape("x", new long[] {4}), k, new float[4], 0));
        assertMessage("weights[1] is not finite", () -> WeightStandardisation.standardise(new float[] {1, Float.NaN, 3, 4}, shape, k, g, 0));
        assertMessage("gains[1] is not finite", () -> WeightStandardisation.standardise(w, shape, k, new float[] {1, Float.NaN}, 0));
    }

    private static float[] scaled(float[] w, float scale) {
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = w[i] * scale;
        }
        return out;
    }
}
