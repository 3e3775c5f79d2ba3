package dev.fedprune.agent.prune;

/**
 * The pruning target: an unstructured ratio with its comparison group, or an N:M pattern (remove
 * {@code n} of every {@code m} consecutive input weights of a row).
 */
public record Sparsity(double ratio, boolean perRow, int n, int m) {
    public Sparsity {
        if (!(ratio >= 0 && ratio < 1)) {
            throw new IllegalArgumentException("sparsity ratio " + ratio + " is outside [0, 1)");
        }
        if (n != 0 || m != 0) {
            if (n <= 0 || m <= 0 || n >= m || m > 64) {
                throw new IllegalArgumentException("N:M pattern " + n + ":" + m + " needs 0 < N < M <= 64");
            }
            if (Math.abs(ratio - (double) n / m) > 1e-9) {
                throw new IllegalArgumentException("sparsity ratio " + ratio + " contradicts the N:M pattern " + n + ":" + m
                        + " (which removes " + ((double) n / m) + ")");
            }
        }
    }

    public static Sparsity unstructured(double ratio, boolean perRow) {
        return new Sparsity(ratio, perRow, 0, 0);
    }

    public static Sparsity nm(int n, int m) {
        return new Sparsity((double) n / m, true, n, m);
    }

    public boolean isNm() {
        return m != 0;
    }

    public String describe() {
        return isNm() ? n + ":" + m : ratio + (perRow ? " per row" : " per matrix");
    }
}
