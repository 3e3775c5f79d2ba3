package dev.fedprune.aggregation.sparsetrain.fedmef;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.BlockOrder;
import dev.fedprune.aggregation.sparsetrain.PruneAndGrow;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BudgetAwareExtrusionTest {

    static BitMask keep(int... bits) {
        BitMask mask = new BitMask(bits.length);
        for (int i = 0; i < bits.length; i++) {
            mask.set(i, bits[i] == 1);
        }
        return mask;
    }

    static BitMask allActive(int n) {
        BitMask mask = new BitMask(n);
        for (int i = 0; i < n; i++) {
            mask.set(i);
        }
        return mask;
    }

    // O-14, marking and penalty.

    @Test
    void o14MarksTheTwoSmallestActiveMagnitudes() {
        float[] theta = {0.9f, -0.05f, 0.3f, -0.7f, 0.02f};
        MarkedWeights marked = MarkedWeights.mark(theta, allActive(5), 2);
        assertArrayEquals(new int[] {1, 4}, marked.indices());
        assertEquals(0.0029, marked.squaredNorm(theta), 1e-9);
    }

    @Test
    void o14PenaltyAndItsGradientOnTheMarkedWeightsOnly() {
        float[] theta = {0.9f, -0.05f, 0.3f, -0.7f, 0.02f};
        MarkedWeights marked = MarkedWeights.mark(theta, allActive(5), 2);
        ExtrusionPenalty penalty = new ExtrusionPenalty(0.01);
        assertEquals(0.000029, penalty.value(marked, theta), 1e-11);
        assertArrayEquals(new float[] {0, -0.001f, 0, 0, 0.0004f}, penalty.gradient(marked, theta), 1e-9f);
        assertEquals(0f, penalty.gradient(marked, theta)[0]);

        float[] taskGradient = {1f, 2f, 3f, 4f, 5f};
        penalty.addGradient(marked, theta, taskGradient);
        assertArrayEquals(new float[] {1f, 2f - 0.001f, 3f, 4f, 5f + 0.0004f}, taskGradient, 0f);
    }

    @Test
    void markingSkipsInactiveZerosAndMatchesTheServersPruneOnO12() {
        float[] theta = {0.9f, -0.05f, 0.0f, 0.3f, 0.0f, -0.7f, 0.02f, 0.0f};
        BitMask k = keep(1, 1, 0, 1, 0, 1, 1, 0);
        float[] g = {0.1f, 0.5f, -0.8f, 0.0f, 0.3f, 0.2f, 0.05f, -0.6f};
        MarkedWeights marked = MarkedWeights.mark(theta, k, 2);
        assertArrayEquals(new int[] {1, 6}, marked.indices());
        assertArrayEquals(PruneAndGrow.adjust(theta, k, g, 2, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED).pruned(), marked.indices());
    }

    @Test
    void tiesAreBrokenByTheLowerIndex() {
        float[] theta = {0.1f, -0.1f, 0.5f, 0.1f, -0.1f};
        assertArrayEquals(new int[] {0, 1}, MarkedWeights.mark(theta, allActive(5), 2).indices());
        assertArrayEquals(new int[] {0, 1, 3}, MarkedWeights.mark(theta, allActive(5), 3).indices());
        assertArrayEquals(new int[] {1, 3}, MarkedWeights.mark(theta, keep(0, 1, 1, 1, 1), 2).indices());
    }

    @Test
    void marksFDecayOfTheActiveCountInAnAdjustmentRound() {
        // O-11: α = 0.2, T_end = 300, ΔT = 10; 1000 active weights at t = 10 give k = 199.
        AdjustmentSchedule schedule = new AdjustmentSchedule(0.2, 10, 300, 1, BlockOrder.OUTPUT_TO_INPUT);
        int n = 2000;
        float[] theta = new float[n];
        BitMask k = new BitMask(n);
        for (int i = 0; i < 1000; i++) {
            k.set(2 * i);
            theta[2 * i] = 1000 - i; // the highest active indices have the smallest magnitudes
        }
        MarkedWeights marked = MarkedWeights.mark(theta, k, schedule, 10);
        assertEquals(199, marked.count());
        assertEquals(2 * (1000 - 199), marked.indices()[0]);
        assertEquals(100, MarkedWeights.mark(theta, k, schedule, 150).count());
        assertEquals(0, MarkedWeights.mark(theta, k, schedule, 300).count());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MarkedWeights.mark(theta, k, schedule, 15));
        assertTrue(e.getMessage().contains("adjustmentRound 15"), e.getMessage());
    }

    @Test
    void markingNeverPicksInactiveWeightsAndEqualsTheServersPruneOnRandomLayers() {
        SplittableRandom random = new SplittableRandom(11);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + random.nextInt(300);
            BitMask k = new BitMask(n);
            float[] theta = new float[n];
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                // Inactive weights carry values too (smaller than any active one), so a marking that
                // looked at them would pick them first.
                if (random.nextDouble() < 0.4) {
                    k.set(i);
                    theta[i] = (random.nextInt(7) - 3) * 0.25f;
                } else {
                    theta[i] = random.nextBoolean() ? 0f : 1e-3f;
                }
                g[i] = (random.nextInt(9) - 4) * 0.5f;
            }
            int active = (int) k.cardinality();
            int kk = random.nextInt(Math.min(active, n - active) + 1);
            int[] marked = MarkedWeights.mark(theta, k, kk).indices();
            assertEquals(kk, marked.length);
            for (int i : marked) {
                assertTrue(k.get(i), "trial " + trial + ": marked inactive index " + i);
            }
            float[] zeroedInactive = theta.clone();
            for (int i = 0; i < n; i++) {
                if (!k.get(i)) {
                    zeroedInactive[i] = 0;
                }
            }
            assertArrayEquals(PruneAndGrow.adjust(zeroedInactive, k, g, kk, PruneAndGrow.Regrowth.EXCLUDE_JUST_PRUNED).pruned(), marked,
                    "trial " + trial);
            // No unmarked active weight is smaller than a marked one.
            float largestMarked = 0;
            for (int i : marked) {
                largestMarked = Math.max(largestMarked, Math.abs(theta[i]));
            }
            for (int i = 0; i < n; i++) {
                if (k.get(i) && java.util.Arrays.binarySearch(marked, i) < 0) {
                    assertTrue(Math.abs(theta[i]) >= largestMarked, "trial " + trial + " index " + i);
                }
            }
            assertArrayEquals(marked, MarkedWeights.mark(theta, k, kk).indices(), "same inputs, same marking");
        }
    }

    @Test
    void penaltyGradientIsZeroOffTheMarkedSetOnRandomLayers() {
        SplittableRandom random = new SplittableRandom(5);
        ExtrusionPenalty penalty = new ExtrusionPenalty(0.03);
        for (int trial = 0; trial < 100; trial++) {
            int n = 1 + random.nextInt(200);
            float[] theta = new float[n];
            for (int i = 0; i < n; i++) {
                theta[i] = (float) (random.nextDouble() * 2 - 1);
            }
            MarkedWeights marked = MarkedWeights.mark(theta, allActive(n), random.nextInt(n + 1));
            float[] gradient = penalty.gradient(marked, theta);
            double squares = 0;
            for (int i = 0; i < n; i++) {
                boolean isMarked = java.util.Arrays.binarySearch(marked.indices(), i) >= 0;
                if (isMarked) {
                    assertEquals((float) (2 * 0.03 * theta[i]), gradient[i], "trial " + trial + " index " + i);
                    squares += (double) theta[i] * theta[i];
                } else {
                    assertEquals(0f, gradient[i], "trial " + trial + " index " + i);
                }
            }
            assertEquals(0.03 * squares, penalty.value(marked, theta), 1e-12);
        }
    }

    @Test
    void penaltySumsSquaredNormsOverLayers() {
        float[] a = {0.9f, -0.05f, 0.3f, -0.7f, 0.02f};
        float[] b = {3f, -4f, 10f};
        List<MarkedWeights> marked = List.of(MarkedWeights.mark(a, allActive(5), 2), MarkedWeights.mark(b, allActive(3), 2));
        assertEquals(25.0029, ExtrusionPenalty.squaredNorm(marked, List.of(a, b)), 1e-6);
        assertEquals(0.250029, new ExtrusionPenalty(0.01).value(marked, List.of(a, b)), 1e-8);
    }

    // O-14, REX profile and learning rate.

    @Test
    void o14RexProfile() {
        RexLearningRate rex = new RexLearningRate(100, 0.1);
        assertEquals(1.0, rex.profile(0), 0);
        assertEquals(100.0 / 150.0, rex.profile(50), 1e-15);
        assertEquals(0.666667, rex.profile(50), 1e-6);
        assertEquals(0.0, rex.profile(100), 0);
    }

    @Test
    void o14BudgetAwareLearningRate() {
        RexLearningRate rex = new RexLearningRate(100, 0.1);
        double norm = Math.log(3); // σ(ln 3) = 0.75, 2σ − 1 = 0.5
        assertEquals(0.0333333, rex.beta(50, norm), 1e-7);
        assertEquals(0.0333333, rex.stepRate(50, 0.01, norm), 1e-7);
        assertEquals(0.05, rex.stepRate(50, 0.05, norm), 0);
        assertEquals(0.0, rex.beta(50, 0), 0);
        assertEquals(0.01, rex.stepRate(50, 0.01, 0), 0);
        assertEquals(0.05, rex.beta(0, norm), 1e-15);
        assertEquals(0.0, rex.beta(100, norm), 0);
    }

    @Test
    void betaAgreesWithTheLogisticForm() {
        RexLearningRate rex = new RexLearningRate(37, 0.2);
        for (double norm : new double[] {1e-6, 0.01, 0.5, 1, 3, 20}) {
            for (int b = 0; b <= 37; b++) {
                double logistic = 1 / (1 + Math.exp(-norm));
                double expected = (2.0 * 37 - 2.0 * b) / (2.0 * 37 - b) * (2 * logistic - 1) * 0.2;
                assertEquals(expected, rex.beta(b, norm), 1e-12, "norm " + norm + " b " + b);
            }
        }
    }

    @Test
    void budgetIsEpochsTimesCeiledBatchesPerEpoch() {
        assertEquals(5 * 16, RexLearningRate.budgetSteps(5, 1000, 64));
        assertEquals(2 * 2, RexLearningRate.budgetSteps(2, 128, 64));
        assertEquals(1, RexLearningRate.budgetSteps(1, 1, 64));
    }

    @Test
    void refusesBadArgumentsNamingThem() {
        assertMessage("lambda", () -> new ExtrusionPenalty(-0.01));
        assertMessage("lambda", () -> new ExtrusionPenalty(Double.NaN));
        assertMessage("budgetSteps must be >= 1, got 0", () -> new RexLearningRate(0, 0.1));
        assertMessage("baseLearningRate", () -> new RexLearningRate(10, 0));
        assertMessage("epochs must be >= 1, got 0", () -> RexLearningRate.budgetSteps(0, 100, 10));
        assertMessage("sampleCount must be >= 1, got 0", () -> RexLearningRate.budgetSteps(1, 0, 10));
        assertMessage("batchSize must be >= 1, got 0", () -> RexLearningRate.budgetSteps(1, 100, 0));
        RexLearningRate rex = new RexLearningRate(100, 0.1);
        assertMessage("step must lie in [0, budgetSteps 100], got 101", () -> rex.profile(101));
        assertMessage("step must lie in [0, budgetSteps 100], got -1", () -> rex.profile(-1));
        assertMessage("markedNorm", () -> rex.beta(3, -1));
        assertMessage("scheduledRate", () -> rex.stepRate(3, -0.1, 1));
        float[] theta = {0.9f, -0.05f, 0f};
        assertMessage("k = 3 must lie in [0, active count 2]", () -> MarkedWeights.mark(theta, keep(1, 1, 0), 3));
        assertMessage("k = -1", () -> MarkedWeights.mark(theta, keep(1, 1, 0), -1));
        assertMessage("keep-mask of 2 bits for a layer of 3 weights", () -> MarkedWeights.mark(theta, keep(1, 1), 1));
        assertMessage("weight at index 1 is not finite", () -> MarkedWeights.mark(new float[] {1f, Float.NaN}, keep(1, 1), 1));
        MarkedWeights marked = MarkedWeights.mark(theta, keep(1, 1, 0), 1);
        assertMessage("gradient has 2 values, the marked layer 3", () -> new ExtrusionPenalty(0.1).addGradient(marked, theta, new float[2]));
        assertMessage("indices must be strictly ascending", () -> new MarkedWeights(4, new int[] {2, 1}));
        assertMessage("indices[0] = 4 must lie in [0, 4)", () -> new MarkedWeights(4, new int[] {4}));
    }

    static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should contain '" + expected + "'");
    }
}
