package dev.fedprune.agent.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fedprune.aggregation.format.BitMask;
import org.junit.jupiter.api.Test;

/** The exact oracles O-1, O-2, O-3, O-4 and O-8 of algorithms.md section 5. */
class OracleTest {

    static int[][] bits(BitMask mask, int rows, int cols) {
        int[][] out = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = mask.get((long) r * cols + c) ? 1 : 0;
            }
        }
        return out;
    }

    static final float[] O1_W = {
        1, -2, 3, -4,
        4, 3, -2, 1,
        -3, 1, -1, 0.25f,
        2, -1, 4, -3};

    @Test
    void o1WandaMaskBreaksTiesTowardsLowerColumn() {
        float[] norms = {1, 2, 0.5f, 4};
        float[] scaler = new float[4];
        for (int j = 0; j < 4; j++) {
            scaler[j] = norms[j] * norms[j];
        }
        float[] row = new float[4];
        ScoreMasks.RowScores scores = ScoreMasks.wanda(O1_W, 4, scaler);
        scores.fill(0, row);
        assertArrayEquals(new float[] {1, 4, 1.5f, 16}, row);
        BitMask mask = ScoreMasks.mask(scores, 4, 4, Sparsity.unstructured(0.5, true));
        assertArrayEquals(new int[][] {{1, 0, 1, 0}, {1, 0, 1, 0}, {0, 0, 1, 1}, {1, 1, 0, 0}}, bits(mask, 4, 4));
        float[] w = O1_W.clone();
        for (int i = 0; i < 16; i++) {
            if (mask.get(i)) {
                w[i] = 0;
            }
        }
        assertArrayEquals(new float[] {0, -2, 0, -4, 0, 3, 0, 1, -3, 1, 0, 0, 0, 0, 4, -3}, w);
    }

    @Test
    void o1PerRowMagnitudeDiffersInRowZero() {
        BitMask mask = ScoreMasks.mask(ScoreMasks.magnitude(O1_W, 4), 4, 4, Sparsity.unstructured(0.5, true));
        assertArrayEquals(new int[][] {{1, 1, 0, 0}, {0, 0, 1, 1}, {0, 1, 0, 1}, {1, 1, 0, 0}}, bits(mask, 4, 4));
    }

    @Test
    void o2ScalerIsRunningMeanOverSequencesAndMasksIgnoreTheScale() {
        WandaStatistics stats = new WandaStatistics(4);
        stats.addSequence(new float[] {1, 0, 0, 2, 1, 2, 0, 0}, 2);
        assertArrayEquals(new float[] {2, 4, 0, 4}, stats.scaler());
        stats.addSequence(new float[] {0, 0, 1, 0, 0, 0, 0, 2}, 2);
        float[] scaler = stats.scaler();
        assertArrayEquals(new float[] {1, 2, 0.5f, 4}, scaler);
        assertEquals(1.414214, Math.sqrt(scaler[1]), 1e-6);
        assertEquals(0.707107, Math.sqrt(scaler[2]), 1e-6);
        float[] sums = {2, 4, 1, 8}; // Σx² without the 1/N factor
        BitMask scaled = ScoreMasks.mask(ScoreMasks.wanda(O1_W, 4, scaler), 4, 4, Sparsity.unstructured(0.5, true));
        BitMask unscaled = ScoreMasks.mask(ScoreMasks.wanda(O1_W, 4, sums), 4, 4, Sparsity.unstructured(0.5, true));
        assertEquals(scaled, unscaled);
    }

    @Test
    void o3NmOnScoreRows() {
        float[] s = {5, 1, 3, 2, 8, 8, 1, 0, 0.5f, 2, 1, 4, 2, 9, 3, 7};
        ScoreMasks.RowScores scores = (row, out) -> System.arraycopy(s, row * 8, out, 0, 8);
        BitMask twoFour = ScoreMasks.mask(scores, 2, 8, Sparsity.nm(2, 4));
        assertArrayEquals(new int[][] {{0, 1, 0, 1, 0, 0, 1, 1}, {1, 0, 1, 0, 1, 0, 1, 0}}, bits(twoFour, 2, 8));
        BitMask fourEight = ScoreMasks.mask(scores, 2, 8, Sparsity.nm(4, 8));
        assertArrayEquals(new int[][] {{0, 1, 0, 1, 0, 0, 1, 1}, {1, 1, 1, 0, 1, 0, 0, 0}}, bits(fourEight, 2, 8));
    }

    @Test
    void o4MagnitudePerMatrixRemovesExactlyK() {
        float[] w = {0.5f, -3, 2, -0.1f, 4, -1.5f, 0.2f, 6};
        BitMask mask = ScoreMasks.mask(ScoreMasks.magnitude(w, 4), 2, 4, Sparsity.unstructured(0.5, false));
        assertArrayEquals(new int[][] {{1, 0, 0, 1}, {0, 1, 1, 0}}, bits(mask, 2, 4));
    }

    @Test
    void o8SparseGptSingleRow() {
        double[] h = {4, 2, 2, 2};
        double[] u = DenseLinearAlgebra.upperCholeskyOfInverse(h, 2);
        assertArrayEquals(new double[] {Math.sqrt(0.5), -Math.sqrt(0.5), 0, Math.sqrt(0.5)}, u, 1e-12);
        float[] w = {1, 3};
        float[] uf = {(float) u[0], (float) u[1], (float) u[2], (float) u[3]};
        SparseGpt.Result r = SparseGpt.sweep(w, 1, 2, uf, Sparsity.unstructured(0.5, true), 128);
        assertArrayEquals(new int[][] {{1, 0}}, bits(r.mask(), 1, 2));
        assertArrayEquals(new float[] {0, 4}, r.weights(), 1e-5f);
        assertEquals(1.0, r.loss(), 1e-6);
    }

    @Test
    void o8ThroughTheFullEntryPointWithoutDamping() {
        float[] w = {1, 3};
        SparseGpt.Result r = SparseGpt.prune(w, 1, 2, new double[] {4, 2, 2, 2}, Sparsity.unstructured(0.5, true), 128, 0.0);
        assertArrayEquals(new float[] {0, 4}, r.weights(), 1e-5f);
    }
}
