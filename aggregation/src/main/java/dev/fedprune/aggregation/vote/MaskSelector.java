package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;
import java.util.SplittableRandom;

/**
 * Selects the weights to prune from vote counts (more votes = less important) within a comparison
 * group, using a counting selection over the small integer vote range instead of sorting. Also the
 * reference the bit-sliced accumulator's fast layer path is tested against.
 *
 * <p>Per group: find the threshold {@code t}, the k-th largest count; prune every weight above it and
 * fill the remaining {@code k - #{V > t}} slots among the weights with {@code V == t}, visited in
 * ascending flat index: the first ones ({@link TieBreak#LOWEST_INDEX}, and always for row, column and
 * N:M groups) or uniformly without replacement by selection sampling with a {@link SplittableRandom}
 * ({@link TieBreak#SEEDED_RANDOM}, layer group only). Ranges up to 65535 use a histogram; larger
 * (weighted) counts use a radix descent over the bits, still without sorting.
 */
public final class MaskSelector {
    private static final int HISTOGRAM_LIMIT = 1 << 16;

    private MaskSelector() {
    }

    /**
     * @param votes   row-major vote counts in {@code [0, maxVote]}
     * @param maxVote the largest possible count (the number of agents, or their total weight)
     * @param seed    seed of the layer group's random tie fill
     */
    public static BitMask select(int[] votes, int rows, int cols, int maxVote, SelectionSpec spec, long seed) {
        return select(votes, rows, cols, (long) maxVote, spec, seed);
    }

    /** As {@link #select(int[], int, int, int, SelectionSpec, long)} for weighted vote totals. */
    public static BitMask select(int[] votes, int rows, int cols, long maxVote, SelectionSpec spec, long seed) {
        if ((long) rows * cols != votes.length) {
            throw new IllegalArgumentException(votes.length + " votes for a " + rows + "x" + cols + " tensor");
        }
        BitMask mask = new BitMask(votes.length);
        GroupSelector groups = new GroupSelector(maxVote);
        if (spec.isNm()) {
            checkNm(cols, spec);
            int[] buffer = new int[spec.m()];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c += spec.m()) {
                    long start = (long) r * cols + c;
                    System.arraycopy(votes, (int) start, buffer, 0, spec.m());
                    groups.select(buffer, spec.m(), spec.n(), mask, start, 1, null);
                }
            }
            return mask;
        }
        switch (spec.group()) {
            case LAYER -> {
                int k = (int) ((double) votes.length * spec.sparsityRatio());
                groups.select(votes, votes.length, k, mask, 0, 1, random(spec, seed));
            }
            case ROW -> {
                int k = (int) ((double) cols * spec.sparsityRatio());
                int[] buffer = new int[cols];
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(votes, r * cols, buffer, 0, cols);
                    groups.select(buffer, cols, k, mask, (long) r * cols, 1, null);
                }
            }
            case COLUMN -> selectColumns(votes, rows, cols, spec, mask, groups);
        }
        return mask;
    }

    static void selectColumns(int[] votes, int rows, int cols, SelectionSpec spec, BitMask mask, GroupSelector groups) {
        selectColumns(votes, rows, cols, (int) ((double) rows * spec.sparsityRatio()), mask, groups);
    }

    static void selectColumns(int[] votes, int rows, int cols, int k, BitMask mask, GroupSelector groups) {
        int[] buffer = new int[rows];
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                buffer[r] = votes[r * cols + c];
            }
            groups.select(buffer, rows, k, mask, c, cols, null);
        }
    }

    static void checkNm(int cols, SelectionSpec spec) {
        if (cols % spec.m() != 0) {
            throw new IllegalArgumentException(spec.n() + ":" + spec.m() + " pattern needs the column count " + cols
                    + " to be a multiple of " + spec.m());
        }
    }

    static SplittableRandom random(SelectionSpec spec, long seed) {
        return spec.tieBreak() == TieBreak.SEEDED_RANDOM ? new SplittableRandom(seed) : null;
    }

    /** Exactly-k selection within one group held contiguously in a buffer; reuses its histogram. */
    static final class GroupSelector {
        private final int[] histogram;

        GroupSelector(long maxVote) {
            this.histogram = maxVote < HISTOGRAM_LIMIT ? new int[(int) maxVote + 2] : null;
        }

        /**
         * Marks exactly {@code k} of {@code values[0..count)} with the most votes; element {@code i} is
         * flat index {@code start + i * stride} of the mask.
         */
        void select(int[] values, int count, int k, BitMask mask, long start, long stride, SplittableRandom random) {
            if (k <= 0) {
                return;
            }
            int threshold;
            long above;
            long tied;
            if (histogram != null) {
                int max = 0;
                for (int i = 0; i < count; i++) {
                    int v = Math.min(values[i], histogram.length - 1);
                    histogram[v]++;
                    max = Math.max(max, v);
                }
                threshold = max;
                above = 0;
                while (threshold > 0 && above + histogram[threshold] < k) {
                    above += histogram[threshold];
                    threshold--;
                }
                tied = histogram[threshold];
                for (int i = 0; i < count; i++) {
                    histogram[Math.min(values[i], histogram.length - 1)] = 0;
                }
            } else {
                threshold = kthLargest(values, count, k);
                above = 0;
                tied = 0;
                for (int i = 0; i < count; i++) {
                    if (values[i] > threshold) {
                        above++;
                    } else if (values[i] == threshold) {
                        tied++;
                    }
                }
            }
            long tiedNeeded = k - above;
            long tiedLeft = tied;
            for (int i = 0; i < count; i++) {
                int v = values[i];
                if (v > threshold) {
                    mask.set(start + i * stride);
                } else if (v == threshold && tiedNeeded > 0) {
                    if (TieFill.take(random, tiedNeeded, tiedLeft)) {
                        mask.set(start + i * stride);
                        tiedNeeded--;
                    }
                    tiedLeft--;
                }
            }
        }

        /** The k-th largest of non-negative values by a radix descent over the 31 value bits. */
        private static int kthLargest(int[] values, int count, int k) {
            int threshold = 0;
            for (int bit = 30; bit >= 0; bit--) {
                int candidate = threshold | (1 << bit);
                int n = 0;
                for (int i = 0; i < count; i++) {
                    if (values[i] >= candidate) {
                        n++;
                    }
                }
                if (n >= k) {
                    threshold = candidate;
                }
            }
            return threshold;
        }
    }
}
