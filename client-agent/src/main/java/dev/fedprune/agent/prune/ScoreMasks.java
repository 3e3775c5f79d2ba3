package dev.fedprune.agent.prune;

import dev.fedprune.aggregation.format.BitMask;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Prune masks from per-weight scores (magnitude |W|, Wanda |W|·‖X_j‖): exactly k removed per comparison
 * group (a row, the whole matrix, or each aligned group of M in N:M), ties to the lower flat index.
 * Rows are scored on the fly so that no score matrix is held for per-row groups.
 */
public final class ScoreMasks {
    /** Fills {@code out[0, cols)} with the scores of row {@code row}. */
    @FunctionalInterface
    public interface RowScores {
        void fill(int row, float[] out);
    }

    private ScoreMasks() {
    }

    public static RowScores magnitude(float[] w, int cols) {
        return (row, out) -> {
            int base = row * cols;
            for (int j = 0; j < cols; j++) {
                out[j] = Math.abs(w[base + j]);
            }
        };
    }

    /** Wanda: {@code |W_ij| * sqrt(scaler_j)}, in float32 like the reference. */
    public static RowScores wanda(float[] w, int cols, float[] scaler) {
        if (scaler.length != cols) {
            throw new IllegalArgumentException("activation statistics of length " + scaler.length + " for " + cols + " input columns");
        }
        float[] norms = new float[cols];
        for (int j = 0; j < cols; j++) {
            norms[j] = (float) Math.sqrt(scaler[j]);
        }
        return (row, out) -> {
            int base = row * cols;
            for (int j = 0; j < cols; j++) {
                out[j] = Math.abs(w[base + j]) * norms[j];
            }
        };
    }

    public static BitMask mask(RowScores scores, int rows, int cols, Sparsity sparsity) {
        if (sparsity.isNm() && cols % sparsity.m() != 0) {
            throw new IllegalArgumentException("N:M " + sparsity.n() + ":" + sparsity.m() + " does not divide d_in = " + cols);
        }
        BitMask mask = new BitMask((long) rows * cols);
        if (!sparsity.isNm() && !sparsity.perRow()) {
            float[] all = new float[Math.multiplyExact(rows, cols)];
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                scores.fill(r, row);
                System.arraycopy(row, 0, all, r * cols, cols);
            }
            MaskSelect.smallest(all, 0, all.length, MaskSelect.count(all.length, sparsity.ratio()), mask, 0, null);
            return mask;
        }
        long k = MaskSelect.count(cols, sparsity.ratio());
        // Rows touch disjoint mask words only when a row is a whole number of 64-bit words.
        IntStream range = IntStream.range(0, rows);
        if (cols % 64 == 0 && (long) rows * cols >= (1 << 16)) {
            range = range.parallel();
        }
        ThreadLocal<float[]> rowBuffer = ThreadLocal.withInitial(() -> new float[cols]);
        ThreadLocal<long[]> keyBuffer = ThreadLocal.withInitial(() -> new long[Math.min(cols, MaskSelect.QUICKSELECT_LIMIT)]);
        range.forEach(r -> {
            float[] row = rowBuffer.get();
            scores.fill(r, row);
            if (sparsity.isNm()) {
                MaskSelect.nOfM(row, 0, cols, sparsity.n(), sparsity.m(), mask, (long) r * cols);
            } else {
                MaskSelect.smallest(row, 0, cols, k, mask, (long) r * cols, keyBuffer.get());
            }
        });
        return mask;
    }

    /**
     * Wanda's optional variant (algorithms.md 2.2): per row, remove the entries whose score is at most the
     * score where the ascending prefix sum first exceeds {@code alpha} times the row sum, with
     * {@code alpha} found by bisection so that the matrix sparsity is within 0.001 of the target. Not exact-k.
     */
    public static BitMask wandaVariant(RowScores scores, int rows, int cols, double target) {
        float[][] sorted = new float[rows][];
        double[][] prefix = new double[rows][];
        float[][] raw = new float[rows][];
        double[] sums = new double[rows];
        for (int r = 0; r < rows; r++) {
            float[] row = new float[cols];
            scores.fill(r, row);
            raw[r] = row;
            float[] s = row.clone();
            Arrays.sort(s);
            double[] c = new double[cols];
            double acc = 0;
            for (int j = 0; j < cols; j++) {
                acc += s[j];
                c[j] = acc;
            }
            sorted[r] = s;
            prefix[r] = c;
            sums[r] = acc;
        }
        double alpha = 0.4;
        double lo = 0;
        double hi = 0.8;
        float[] thresholds = new float[rows];
        double current = variantSparsity(sorted, prefix, sums, alpha, thresholds, cols);
        while (Math.abs(current - target) > 0.001 && hi - lo >= 0.001) {
            double next;
            if (current > target) {
                next = (alpha + lo) / 2;
                hi = alpha;
            } else {
                next = (alpha + hi) / 2;
                lo = alpha;
            }
            alpha = next;
            current = variantSparsity(sorted, prefix, sums, alpha, thresholds, cols);
        }
        BitMask mask = new BitMask((long) rows * cols);
        for (int r = 0; r < rows; r++) {
            if (Float.isNaN(thresholds[r])) {
                continue;
            }
            for (int j = 0; j < cols; j++) {
                if (raw[r][j] <= thresholds[r]) {
                    mask.set((long) r * cols + j);
                }
            }
        }
        return mask;
    }

    private static double variantSparsity(float[][] sorted, double[][] prefix, double[] sums, double alpha, float[] thresholds,
                                          int cols) {
        long pruned = 0;
        for (int r = 0; r < sorted.length; r++) {
            double limit = sums[r] * alpha;
            int count = upperBound(prefix[r], limit);
            if (count == 0) {
                thresholds[r] = Float.NaN;
                continue;
            }
            float t = sorted[r][count - 1];
            thresholds[r] = t;
            pruned += upperBound(sorted[r], t);
        }
        return (double) pruned / ((double) sorted.length * cols);
    }

    private static int upperBound(double[] a, double v) {
        int lo = 0;
        int hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] <= v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static int upperBound(float[] a, float v) {
        int lo = 0;
        int hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] <= v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
