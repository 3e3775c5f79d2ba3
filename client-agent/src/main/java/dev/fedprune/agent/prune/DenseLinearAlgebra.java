package dev.fedprune.agent.prune;

import java.util.stream.IntStream;

/**
 * The dense factorizations SparseGPT needs and DJL lacks, in double precision on row-major arrays:
 * blocked right-looking Cholesky and triangular inversion whose inner loops are contiguous row updates
 * (vectorized by the JIT) and whose trailing updates run in parallel over rows.
 */
public final class DenseLinearAlgebra {
    static final int PANEL = 64;

    private DenseLinearAlgebra() {
    }

    /**
     * {@code U}, the upper Cholesky factor of {@code H⁻¹} ({@code H⁻¹ = Uᵀ U}), of a symmetric positive
     * definite {@code n×n} matrix {@code h} (only read). Uses the reversal identity: with {@code J} the
     * reversal permutation and {@code R'} the upper Cholesky factor of {@code J H J}, {@code U = J R'⁻ᵀ J},
     * which avoids forming {@code H⁻¹}: two {@code n³/3} steps instead of four.
     */
    public static double[] upperCholeskyOfInverse(double[] h, int n) {
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) { // upper triangle of J H J
                a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        upperCholeskyInPlace(a, n);
        upperTriangularInverseInPlace(a, n);
        double[] u = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                u[i * n + j] = a[(n - 1 - j) * n + (n - 1 - i)];
            }
        }
        return u;
    }

    /** Overwrites the upper triangle of {@code a} with {@code R}, {@code A = Rᵀ R}; the lower part is ignored. */
    public static void upperCholeskyInPlace(double[] a, int n) {
        for (int k0 = 0; k0 < n; k0 += PANEL) {
            int k1 = Math.min(n, k0 + PANEL);
            for (int j = k0; j < k1; j++) {
                int rj = j * n;
                double d = a[rj + j];
                if (!(d > 0) || Double.isInfinite(d)) {
                    throw new ArithmeticException("matrix is not positive definite at pivot " + j + " (value " + d + ")");
                }
                double r = Math.sqrt(d);
                a[rj + j] = r;
                double inv = 1.0 / r;
                for (int l = j + 1; l < n; l++) {
                    a[rj + l] *= inv;
                }
                for (int i = j + 1; i < k1; i++) {
                    double f = a[rj + i];
                    if (f != 0) {
                        int ri = i * n;
                        for (int l = i; l < n; l++) {
                            a[ri + l] -= f * a[rj + l];
                        }
                    }
                }
            }
            final int p0 = k0;
            final int p1 = k1;
            rows(p1, n).forEach(i -> {
                int ri = i * n;
                for (int j = p0; j < p1; j++) {
                    int rj = j * n;
                    double f = a[rj + i];
                    if (f != 0) {
                        for (int l = i; l < n; l++) {
                            a[ri + l] -= f * a[rj + l];
                        }
                    }
                }
            });
        }
    }

    /** Overwrites an upper triangular {@code R} (upper part of {@code a}) with {@code R⁻¹}. */
    public static void upperTriangularInverseInPlace(double[] a, int n) {
        for (int b1 = n; b1 > 0; b1 -= PANEL) {
            final int hi = b1;
            final int lo = Math.max(0, b1 - PANEL);
            double[][] acc = new double[hi - lo][];
            // Contributions of the rows already inverted (>= hi): independent per row, in parallel.
            rows(lo, hi).forEach(i -> {
                double[] s = new double[n];
                int ri = i * n;
                for (int k = hi; k < n; k++) {
                    double f = a[ri + k];
                    if (f != 0) {
                        int rk = k * n;
                        for (int l = k; l < n; l++) {
                            s[l] += f * a[rk + l];
                        }
                    }
                }
                acc[i - lo] = s;
            });
            for (int i = hi - 1; i >= lo; i--) {
                double[] s = acc[i - lo];
                int ri = i * n;
                for (int k = i + 1; k < hi; k++) {
                    double f = a[ri + k];
                    if (f != 0) {
                        int rk = k * n;
                        for (int l = k; l < n; l++) {
                            s[l] += f * a[rk + l];
                        }
                    }
                }
                double inv = 1.0 / a[ri + i];
                for (int l = i + 1; l < n; l++) {
                    a[ri + l] = -s[l] * inv;
                }
                a[ri + i] = inv;
            }
        }
    }

    private static IntStream rows(int from, int to) {
        IntStream s = IntStream.range(from, to);
        return (long) (to - from) * (to - from) > 64 * 64 ? s.parallel() : s;
    }
}
