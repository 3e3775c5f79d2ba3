package dev.fedprune.aggregation.spallm;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import java.util.Arrays;

/**
 * FedSpaLLM's adaptive mask expansion (algorithms.md 1.14): turns an {@link L0Aggregate} into the
 * global prune mask and the pruned weights. In every comparison group of {@code n} weights the target
 * is {@code k = (int) (n * sparsityRatio)} pruned (algorithms.md 0.2).
 *
 * <ul>
 *   <li>Weights pruned by every agent are always pruned: no agent kept a value for them, so there is
 *       nothing to keep.</li>
 *   <li>Below the target, more weights are pruned until exactly {@code k} are: the most pruned by
 *       agents first (highest prune count), ties by lowest aggregated {@code |W|}, then lowest flat
 *       index. This is the "k largest" rule of algorithms.md 0.3 on the composite score
 *       (prune count, −|W|); it is deterministic, so no seed is needed.</li>
 *   <li><b>Above the target</b> (more weights pruned by every agent than {@code k}, possible when agents
 *       prune more than the job's target in that group, e.g. SparseGPT's per-block adaptive masks
 *       under a row group): all of them stay pruned and the group ends sparser than the target. The
 *       spec prunes weights pruned by every agent unconditionally and only expands below the target;
 *       un-pruning one would keep a weight no agent reconstructed, with no aggregated value. The
 *       overshoot is reported in {@link ExpandedTensor#excessPrunedCount()} and
 *       {@link ExpandedTensor#groupsAboveTarget()}.</li>
 * </ul>
 * Cost: one pass to count, one to mark, plus a sort of the weights tied at the threshold prune count
 * (8 bytes each).
 */
public final class MaskExpansion {
    private MaskExpansion() {
    }

    /**
     * @param rows           the tensor's rows; {@code rows * cols} must equal the aggregate's size
     * @param cols           the tensor's columns
     * @param group          layer (whole tensor), row or column
     * @param sparsityRatio  target fraction pruned per group, in [0, 1]
     */
    public static ExpandedTensor expand(L0Aggregate aggregate, int rows, int cols, ComparisonGroup group, double sparsityRatio) {
        if ((long) rows * cols != aggregate.size()) {
            throw new IllegalArgumentException("tensor " + aggregate.tensor() + " has " + aggregate.size()
                    + " weights, not " + rows + "x" + cols);
        }
        if (!(sparsityRatio >= 0 && sparsityRatio <= 1)) {
            throw new IllegalArgumentException("sparsityRatio must be in [0, 1], got " + sparsityRatio);
        }
        if (aggregate.agentCount() < 1) {
            throw new IllegalArgumentException("no agent contributed tensor " + aggregate.tensor());
        }
        GroupExpander expander = new GroupExpander(aggregate, sparsityRatio);
        switch (group) {
            case LAYER -> expander.expand(0, 1, aggregate.size());
            case ROW -> {
                for (int r = 0; r < rows; r++) {
                    expander.expand(r * cols, 1, cols);
                }
            }
            case COLUMN -> {
                for (int c = 0; c < cols; c++) {
                    expander.expand(c, cols, rows);
                }
            }
        }
        float[] weights = aggregate.weights().clone();
        BitMask mask = expander.mask;
        long[] words = mask.words();
        for (int w = 0; w < words.length; w++) {
            for (long bits = words[w]; bits != 0; bits &= bits - 1) {
                weights[(w << 6) + Long.numberOfTrailingZeros(bits)] = 0f;
            }
        }
        return new ExpandedTensor(aggregate.tensor(), mask, weights, expander.targetPruned, expander.allPruned,
                mask.cardinality(), expander.groupsAboveTarget);
    }

    /** Selection inside one group at a time; accumulates the totals of the tensor. */
    private static final class GroupExpander {
        private final L0Aggregate aggregate;
        private final double sparsityRatio;
        private final int agents;
        private final int[] histogram;
        private final BitMask mask;
        private long targetPruned;
        private long allPruned;
        private int groupsAboveTarget;

        GroupExpander(L0Aggregate aggregate, double sparsityRatio) {
            this.aggregate = aggregate;
            this.sparsityRatio = sparsityRatio;
            this.agents = aggregate.agentCount();
            this.histogram = new int[agents + 1];
            this.mask = new BitMask(aggregate.size());
        }

        /** The group of {@code n} weights at flat indices {@code start + t * stride}. */
        void expand(int start, int stride, int n) {
            int k = (int) ((double) n * sparsityRatio);
            int[] keep = aggregate.keepCounts();
            Arrays.fill(histogram, 0);
            for (int t = 0, j = start; t < n; t++, j += stride) {
                histogram[agents - keep[j]]++;
            }
            targetPruned += k;
            allPruned += histogram[agents];
            // threshold: the largest prune count p with #{prune count >= p} >= k (all-pruned when above target)
            int threshold = agents;
            int above = 0;
            while (threshold > 0 && above + histogram[threshold] < k) {
                above += histogram[threshold];
                threshold--;
            }
            if (histogram[agents] > k) {
                groupsAboveTarget++;
            }
            int tiedNeeded = threshold == agents ? histogram[agents] : k - above;
            long[] tied = new long[histogram[threshold]];
            int tiedCount = 0;
            float[] values = aggregate.weights();
            for (int t = 0, j = start; t < n; t++, j += stride) {
                int prunes = agents - keep[j];
                if (prunes > threshold) {
                    mask.set(j);
                } else if (prunes == threshold) {
                    // |W| bits are a non-negative int ordered like the magnitude; t fits in the low 32 bits
                    tied[tiedCount++] = (long) Float.floatToRawIntBits(Math.abs(values[j])) << 32 | t;
                }
            }
            if (tiedNeeded > 0 && tiedNeeded < tiedCount) {
                Arrays.sort(tied);
            }
            for (int i = 0; i < tiedNeeded; i++) {
                mask.set(start + (long) (int) tied[i] * stride);
            }
        }
    }
}
