package dev.fedprune.agent.prune;

import dev.fedprune.aggregation.format.BitMask;
import java.util.stream.IntStream;

/**
 * SparseGPT (algorithms.md 2.5) on one matrix given its Hessian {@code H = 2/N Σ X Xᵀ}: dead inputs,
 * damping, the upper Cholesky factor of {@code H⁻¹}, then a sweep over column blocks with adaptive
 * exact-k mask selection per block (or N:M re-evaluated every M columns), OBS compensation inside the
 * block and a lazy update of the columns to its right. Rows are independent during the sweep and run in
 * parallel tiles; the lazy update is tiled so that a slice of {@code U} is reused across the tile's rows.
 */
public final class SparseGpt {
    public static final int DEFAULT_BLOCK = 128;
    public static final double DEFAULT_DAMPING = 0.01;
    private static final int ROW_TILE = 16;
    private static final int COL_CHUNK = 1024;

    /** The prune mask, the updated weights (written into the input array) and the OBS loss. */
    public record Result(BitMask mask, float[] weights, double loss) {
    }

    private SparseGpt() {
    }

    /** The damped inverse factor of one Hessian, shareable by matrices that read the same input (q/k/v). */
    public record Factor(float[] u, boolean[] dead, int cols) {
    }

    /**
     * @param w        {@code [rows, cols]} weights, updated in place
     * @param hessian  {@code [cols, cols]} Hessian, row-major; modified (dead inputs, damping)
     */
    public static Result prune(float[] w, int rows, int cols, double[] hessian, Sparsity sparsity, int blockSize, double damping) {
        return prune(w, rows, cols, factor(hessian, cols, damping), sparsity, blockSize);
    }

    public static Result prune(float[] w, int rows, int cols, Factor factor, Sparsity sparsity, int blockSize) {
        if (factor.cols() != cols) {
            throw new IllegalArgumentException("Hessian of " + factor.cols() + " columns for a matrix of " + cols);
        }
        if (sparsity.isNm() && cols % sparsity.m() != 0) {
            throw new IllegalArgumentException("N:M " + sparsity.n() + ":" + sparsity.m() + " does not divide d_in = " + cols);
        }
        if (sparsity.isNm() && blockSize % sparsity.m() != 0) {
            throw new IllegalArgumentException("block size " + blockSize + " is not a multiple of M = " + sparsity.m());
        }
        for (int j = 0; j < cols; j++) {
            if (factor.dead()[j]) {
                for (int r = 0; r < rows; r++) {
                    w[r * cols + j] = 0f;
                }
            }
        }
        return sweep(w, rows, cols, factor.u(), sparsity, blockSize);
    }

    /** Dead inputs ({@code H_jj = 0} becomes 1), damping {@code λ = damping·mean(diag H)}, {@code U = chol_upper(H⁻¹)}. */
    public static Factor factor(double[] h, int cols, double damping) {
        boolean[] dead = new boolean[cols];
        double diagonalSum = 0;
        for (int j = 0; j < cols; j++) {
            if (h[j * cols + j] == 0) {
                h[j * cols + j] = 1;
                dead[j] = true;
            }
            diagonalSum += h[j * cols + j];
        }
        double lambda = damping * diagonalSum / cols;
        for (int j = 0; j < cols; j++) {
            h[j * cols + j] += lambda;
        }
        double[] ud = DenseLinearAlgebra.upperCholeskyOfInverse(h, cols);
        float[] u = new float[ud.length];
        for (int i = 0; i < ud.length; i++) {
            u[i] = (float) ud[i];
        }
        return new Factor(u, dead, cols);
    }

    /** The block sweep given {@code U}; public for the benchmark. */
    public static Result sweep(float[] w, int rows, int cols, float[] u, Sparsity sparsity, int blockSize) {
        BitMask mask = new BitMask((long) rows * cols);
        double[] rowLoss = new double[rows];
        float[] blockScores = sparsity.isNm() ? null : new float[rows * blockSize];
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        float[] errors = new float[rows * blockSize];
        for (int i1 = 0; i1 < cols; i1 += blockSize) {
            final int b1 = i1;
            final int b2 = Math.min(cols, i1 + blockSize);
            final int count = b2 - b1;
            // Adaptive mask of the block: exactly k smallest of W²/U_jj² over all rows x block columns.
            boolean[] blockMask = new boolean[rows * count];
            if (!sparsity.isNm()) {
                for (int r = 0; r < rows; r++) {
                    for (int i = 0; i < count; i++) {
                        float d = u[(b1 + i) * cols + b1 + i];
                        float x = w[r * cols + b1 + i];
                        blockScores[r * count + i] = x * x / (d * d);
                    }
                }
                BitMask selected = new BitMask((long) rows * count);
                int n = rows * count;
                MaskSelect.smallest(blockScores, 0, n, MaskSelect.count(n, sparsity.ratio()), selected, 0,
                        n <= MaskSelect.QUICKSELECT_LIMIT ? new long[n] : null);
                for (int e = 0; e < n; e++) {
                    blockMask[e] = selected.get(e);
                }
            }
            IntStream tileRange = IntStream.range(0, tiles);
            if ((long) rows * cols > (1 << 16)) {
                tileRange = tileRange.parallel();
            }
            tileRange.forEach(t -> {
                int r0 = t * ROW_TILE;
                int r1 = Math.min(rows, r0 + ROW_TILE);
                float[] nmScores = sparsity.isNm() ? new float[sparsity.m()] : null;
                for (int r = r0; r < r1; r++) {
                    int rowBase = r * cols;
                    double loss = 0;
                    for (int i = 0; i < count; i++) {
                        int c = b1 + i;
                        if (nmScores != null && i % sparsity.m() == 0) {
                            for (int q = 0; q < sparsity.m(); q++) {
                                float d = u[(c + q) * cols + c + q];
                                float x = w[rowBase + c + q];
                                nmScores[q] = x * x / (d * d);
                            }
                            BitMask picked = new BitMask(sparsity.m());
                            MaskSelect.nOfM(nmScores, 0, sparsity.m(), sparsity.n(), sparsity.m(), picked, 0);
                            for (int q = 0; q < sparsity.m(); q++) {
                                if (picked.get(q)) {
                                    blockMask[r * count + i + q] = true;
                                }
                            }
                        }
                        float value = w[rowBase + c];
                        float d = u[c * cols + c];
                        boolean pruned = blockMask[r * count + i];
                        float q = pruned ? 0f : value;
                        float err = (value - q) / d;
                        loss += (double) (value - q) * (value - q) / ((double) d * d) / 2;
                        errors[r * blockSize + i] = err;
                        if (err != 0f) {
                            int ur = c * cols;
                            for (int j = c + 1; j < b2; j++) {
                                w[rowBase + j] -= err * u[ur + j];
                            }
                        }
                        w[rowBase + c] = q;
                    }
                    rowLoss[r] += loss;
                }
                // Lazy batch update of the columns right of the block, tiled for cache reuse of U.
                for (int j0 = b2; j0 < cols; j0 += COL_CHUNK) {
                    int j1 = Math.min(cols, j0 + COL_CHUNK);
                    for (int i = 0; i < count; i++) {
                        int ur = (b1 + i) * cols;
                        for (int r = r0; r < r1; r++) {
                            float err = errors[r * blockSize + i];
                            if (err == 0f) {
                                continue;
                            }
                            int rowBase = r * cols;
                            for (int j = j0; j < j1; j++) {
                                w[rowBase + j] -= err * u[ur + j];
                            }
                        }
                    }
                }
            });
            // Set the block's bits after the parallel part: rows may share mask words.
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < count; i++) {
                    if (blockMask[r * count + i]) {
                        mask.set((long) r * cols + b1 + i);
                    }
                }
            }
        }
        double loss = 0;
        for (double l : rowLoss) {
            loss += l;
        }
        return new Result(mask, w, loss);
    }
}
