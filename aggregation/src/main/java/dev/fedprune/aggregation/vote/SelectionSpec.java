package dev.fedprune.aggregation.vote;

/**
 * How to turn vote counts into a global prune mask: the comparison group, the target sparsity, an
 * optional N:M pattern (prune N of every M consecutive weights of a row; 0:0 = unstructured), the tie
 * rule of the layer group and its seed.
 */
public record SelectionSpec(ComparisonGroup group, double sparsityRatio, int n, int m, TieBreak tieBreak, long seed) {

    public SelectionSpec {
        if (!(sparsityRatio >= 0 && sparsityRatio < 1)) {
            throw new IllegalArgumentException("sparsityRatio must be in [0, 1), got " + sparsityRatio);
        }
        if (n < 0 || m < 0 || (m == 0) != (n == 0) || n > m) {
            throw new IllegalArgumentException("N:M pattern must have 0 < N <= M, or 0:0 for unstructured; got " + n + ":" + m);
        }
    }

    public static SelectionSpec unstructured(ComparisonGroup group, double sparsityRatio, long seed) {
        return new SelectionSpec(group, sparsityRatio, 0, 0, TieBreak.SEEDED_RANDOM, seed);
    }

    public boolean isNm() {
        return m > 0;
    }
}
