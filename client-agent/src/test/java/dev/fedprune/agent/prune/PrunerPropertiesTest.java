package dev.fedprune.agent.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.bench.Baselines;
import dev.fedprune.aggregation.format.BitMask;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PrunerPropertiesTest {

    /** Reference: sort indices by (score, index) and mark the first k. */
    static BitMask sortReference(float[] scores, long k) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> scores[i] + 0.0f).thenComparingInt(i -> i));
        BitMask m = new BitMask(scores.length);
        for (int i = 0; i < k; i++) {
            m.set(order[i]);
        }
        return m;
    }

    static float[] scoresWithTies(SplittableRandom random, int n, int distinct) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = random.nextInt(distinct) * 0.25f - (random.nextInt(4) == 0 ? 1f : 0f);
        }
        return s;
    }

    @Test
    void quickselectAndRadixSelectMatchStableSortWithManyTies() {
        SplittableRandom random = new SplittableRandom(7);
        for (int n : new int[] {1, 2, 5, 64, 1000, MaskSelect.QUICKSELECT_LIMIT + 1234}) {
            for (double s : new double[] {0.0, 0.1, 0.5, 0.7, 0.999}) {
                float[] scores = scoresWithTies(random, n, Math.max(2, n / 10));
                long k = MaskSelect.count(n, s);
                BitMask mask = new BitMask(n);
                MaskSelect.smallest(scores, 0, n, k, mask, 0, null);
                assertEquals(sortReference(scores, k), mask, "n=" + n + " s=" + s);
            }
        }
    }

    @Test
    void negativeZeroAndNegativeScoresOrderCorrectly() {
        float[] scores = {0.0f, -0.0f, -1f, 3f, -0.5f, Float.MIN_VALUE};
        BitMask mask = new BitMask(6);
        MaskSelect.smallest(scores, 0, 6, 3, mask, 0, null);
        assertEquals(sortReference(scores, 3), mask);
        assertTrue(mask.get(2) && mask.get(4) && mask.get(0));
    }

    @Test
    void everyComparisonGroupGetsExactlyK() {
        SplittableRandom random = new SplittableRandom(3);
        int rows = 24;
        int cols = 128;
        float[] w = scoresWithTies(random, rows * cols, 40);
        float[] scaler = new float[cols];
        for (int j = 0; j < cols; j++) {
            scaler[j] = (float) random.nextDouble();
        }
        BitMask perRow = ScoreMasks.mask(ScoreMasks.wanda(w, cols, scaler), rows, cols, Sparsity.unstructured(0.7, true));
        for (int r = 0; r < rows; r++) {
            assertEquals(89, perRow.cardinality((long) r * cols, (long) (r + 1) * cols));
        }
        assertEquals(Baselines.wandaBySort(w, rows, cols, scaler, 0.7), perRow);
        BitMask perMatrix = ScoreMasks.mask(ScoreMasks.magnitude(w, cols), rows, cols, Sparsity.unstructured(0.7, false));
        assertEquals((long) (rows * cols * 0.7), perMatrix.cardinality());
        for (int[] nm : new int[][] {{2, 4}, {4, 8}}) {
            BitMask m = ScoreMasks.mask(ScoreMasks.magnitude(w, cols), rows, cols, Sparsity.nm(nm[0], nm[1]));
            for (long g = 0; g < (long) rows * cols; g += nm[1]) {
                assertEquals(nm[0], m.cardinality(g, g + nm[1]));
            }
        }
    }

    @Test
    void wandaVariantLandsNearTheTargetSparsity() {
        SplittableRandom random = new SplittableRandom(5);
        int rows = 64;
        int cols = 256;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        float[] scaler = new float[cols];
        Arrays.fill(scaler, 1f);
        BitMask mask = ScoreMasks.wandaVariant(ScoreMasks.wanda(w, cols, scaler), rows, cols, 0.5);
        double s = (double) mask.cardinality() / (rows * cols);
        assertEquals(0.5, s, 0.01);
    }

    @Test
    void rejectsBadTargets() {
        assertThrows(IllegalArgumentException.class, () -> Sparsity.unstructured(1.0, true));
        assertThrows(IllegalArgumentException.class, () -> Sparsity.unstructured(-0.1, true));
        assertThrows(IllegalArgumentException.class, () -> new Sparsity(0.6, true, 2, 4));
        assertThrows(IllegalArgumentException.class,
                () -> ScoreMasks.mask(ScoreMasks.magnitude(new float[12], 6), 2, 6, Sparsity.nm(2, 4)));
    }

    static double[] randomSpd(SplittableRandom random, int n, int tokens) {
        double[] x = new double[n * tokens];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextGaussian();
        }
        double[] h = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < tokens; t++) {
                    s += x[i * tokens + t] * x[j * tokens + t];
                }
                h[i * n + j] = 2 * s / tokens + (i == j ? 0.01 : 0);
            }
        }
        return h;
    }

    @Test
    void blockedInverseFactorMatchesTextbookLoops() {
        SplittableRandom random = new SplittableRandom(11);
        int n = 150; // crosses panel boundaries of 64
        double[] h = randomSpd(random, n, 400);
        double[] fast = DenseLinearAlgebra.upperCholeskyOfInverse(h, n);
        double[] slow = Baselines.upperCholeskyOfInverse(h, n);
        assertArrayEquals(slow, fast, 1e-9);
    }

    @Test
    void tiledParallelSweepMatchesPlainLoops() {
        SplittableRandom random = new SplittableRandom(13);
        int rows = 40;
        int cols = 300; // two full blocks of 128 and a partial one
        double[] h = randomSpd(random, cols, 600);
        double[] ud = DenseLinearAlgebra.upperCholeskyOfInverse(h, cols);
        float[] u = new float[ud.length];
        for (int i = 0; i < u.length; i++) {
            u[i] = (float) ud[i];
        }
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        float[] w2 = w.clone();
        SparseGpt.Result fast = SparseGpt.sweep(w, rows, cols, u, Sparsity.unstructured(0.5, true), 128);
        BitMask slow = Baselines.sparseGptSweep(w2, rows, cols, u, 0.5, 128);
        assertEquals(slow, fast.mask());
        assertArrayEquals(w2, fast.weights(), 1e-4f);
        for (int b = 0; b < cols; b += 128) {
            int count = Math.min(128, cols - b);
            long pruned = 0;
            for (int r = 0; r < rows; r++) {
                pruned += fast.mask().cardinality((long) r * cols + b, (long) r * cols + b + count);
            }
            assertEquals((long) (rows * count * 0.5), pruned, "exact k in block " + b);
        }
        for (int i = 0; i < w.length; i++) {
            assertEquals(fast.mask().get(i), fast.weights()[i] == 0f, "pruned entries are exactly zero, others not");
        }
    }

    @Test
    void sparseGptNmPrunesNOfEveryMAndLowersLossBelowMagnitude() {
        SplittableRandom random = new SplittableRandom(17);
        int rows = 16;
        int cols = 64;
        double[] h = randomSpd(random, cols, 200);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        SparseGpt.Result r = SparseGpt.prune(w.clone(), rows, cols, h.clone(), Sparsity.nm(2, 4), 128, 0.01);
        for (long g = 0; g < (long) rows * cols; g += 4) {
            assertEquals(2, r.mask().cardinality(g, g + 4));
        }
        // Reconstruction error ΔW H ΔWᵀ is smaller than for 2:4 magnitude pruning without updates.
        BitMask magnitude = ScoreMasks.mask(ScoreMasks.magnitude(w, cols), rows, cols, Sparsity.nm(2, 4));
        float[] wm = w.clone();
        for (int i = 0; i < wm.length; i++) {
            if (magnitude.get(i)) {
                wm[i] = 0;
            }
        }
        assertTrue(error(w, r.weights(), h, rows, cols) < error(w, wm, h, rows, cols));
    }

    static double error(float[] w, float[] pruned, double[] h, int rows, int cols) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                double di = w[r * cols + i] - pruned[r * cols + i];
                for (int j = 0; j < cols; j++) {
                    total += di * h[i * cols + j] * (w[r * cols + j] - pruned[r * cols + j]);
                }
            }
        }
        return total;
    }

    @Test
    void deadInputsAreZeroedAndPrunedFirst() {
        int cols = 4;
        double[] h = {2, 0, 1, 0, 0, 0, 0, 0, 1, 0, 3, 0.5, 0, 0, 0.5, 1};
        float[] w = {1, 5, 2, 3};
        SparseGpt.Result r = SparseGpt.prune(w, 1, cols, h, Sparsity.unstructured(0.25, true), 128, 0.01);
        assertTrue(r.mask().get(1));
        assertEquals(0f, r.weights()[1]);
    }
}
