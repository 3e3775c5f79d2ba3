package dev.fedprune.agent.bench;

import dev.fedprune.aggregation.format.BitMask;
import java.util.Arrays;
import java.util.Comparator;

/**
 * The obvious implementations the optimized pruners are measured against (and tested for equality
 * with): a full sort per row for Wanda masks, and SparseGPT with textbook dense loops (Gauss-Jordan
 * inverse, Cholesky of the inverse, untiled single-threaded sweep, full sort per block).
 */
public final class Baselines {
    private Baselines() {
    }

    /** Wanda mask by sorting each row's column indices by (score, index). */
    public static BitMask wandaBySort(float[] w, int rows, int cols, float[] scaler, double sparsity) {
        BitMask mask = new BitMask((long) rows * cols);
        int k = (int) (cols * sparsity);
        Integer[] order = new Integer[cols];
        float[] score = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                score[j] = Math.abs(w[r * cols + j]) * (float) Math.sqrt(scaler[j]);
                order[j] = j;
            }
            Arrays.sort(order, Comparator.comparingDouble((Integer j) -> score[j]).thenComparingInt(j -> j));
            for (int i = 0; i < k; i++) {
                mask.set((long) r * cols + order[i]);
            }
        }
        return mask;
    }

    /** Wanda mask by a full primitive sort per row of packed (score bits, index) keys: the stronger baseline. */
    public static BitMask wandaByPrimitiveSort(float[] w, int rows, int cols, float[] scaler, double sparsity) {
        BitMask mask = new BitMask((long) rows * cols);
        int k = (int) (cols * sparsity);
        long[] keys = new long[cols];
        float[] norms = new float[cols];
        for (int j = 0; j < cols; j++) {
            norms[j] = (float) Math.sqrt(scaler[j]);
        }
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                float score = Math.abs(w[r * cols + j]) * norms[j];
                keys[j] = ((long) Float.floatToIntBits(score + 0.0f) << 32) | j; // scores >= 0: bits are monotone
            }
            java.util.Arrays.sort(keys);
            for (int i = 0; i < k; i++) {
                mask.set((long) r * cols + (int) keys[i]);
            }
        }
        return mask;
    }

    /** {@code U = chol_upper(H⁻¹)} the textbook way: Gauss-Jordan inverse, then Cholesky, plain loops. */
    public static double[] upperCholeskyOfInverse(double[] h, int n) {
        double[] a = h.clone();
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++) {
            inv[i * n + i] = 1;
        }
        for (int p = 0; p < n; p++) {
            double d = a[p * n + p];
            for (int j = 0; j < n; j++) {
                a[p * n + j] /= d;
                inv[p * n + j] /= d;
            }
            for (int i = 0; i < n; i++) {
                if (i == p) {
                    continue;
                }
                double f = a[i * n + p];
                for (int j = 0; j < n; j++) {
                    a[i * n + j] -= f * a[p * n + j];
                    inv[i * n + j] -= f * inv[p * n + j];
                }
            }
        }
        double[] u = new double[n * n]; // inv = Uᵀ U
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = inv[i * n + j];
                for (int k = 0; k < i; k++) {
                    s -= u[k * n + i] * u[k * n + j];
                }
                u[i * n + j] = i == j ? Math.sqrt(s) : s / u[i * n + i];
            }
        }
        return u;
    }

    /** The SparseGPT sweep with plain loops (unstructured, exact-k per block), single-threaded. */
    public static BitMask sparseGptSweep(float[] w, int rows, int cols, float[] u, double sparsity, int blockSize) {
        BitMask mask = new BitMask((long) rows * cols);
        for (int i1 = 0; i1 < cols; i1 += blockSize) {
            int i2 = Math.min(cols, i1 + blockSize);
            int count = i2 - i1;
            Integer[] order = new Integer[rows * count];
            float[] score = new float[rows * count];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < count; i++) {
                    float d = u[(i1 + i) * cols + i1 + i];
                    float x = w[r * cols + i1 + i];
                    score[r * count + i] = x * x / (d * d);
                    order[r * count + i] = r * count + i;
                }
            }
            Arrays.sort(order, Comparator.comparingDouble((Integer e) -> score[e]).thenComparingInt(e -> e));
            boolean[] pruned = new boolean[rows * count];
            int k = (int) ((long) rows * count * sparsity);
            for (int e = 0; e < k; e++) {
                pruned[order[e]] = true;
            }
            float[] err = new float[rows * count];
            for (int i = 0; i < count; i++) {
                int c = i1 + i;
                for (int r = 0; r < rows; r++) {
                    float value = w[r * cols + c];
                    float q = pruned[r * count + i] ? 0f : value;
                    float e = (value - q) / u[c * cols + c];
                    for (int j = c + 1; j < i2; j++) {
                        w[r * cols + j] -= e * u[c * cols + j];
                    }
                    w[r * cols + c] = q;
                    err[r * count + i] = e;
                    if (pruned[r * count + i]) {
                        mask.set((long) r * cols + c);
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                for (int j = i2; j < cols; j++) {
                    float s = 0;
                    for (int i = 0; i < count; i++) {
                        s += err[r * count + i] * u[(i1 + i) * cols + j];
                    }
                    w[r * cols + j] -= s;
                }
            }
        }
        return mask;
    }
}
