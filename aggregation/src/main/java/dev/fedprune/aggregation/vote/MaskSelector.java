package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;
import java.util.SplittableRandom;

/**
 * Selects the weights to prune from vote counts (more votes = less important) within a comparison
 * group, using a counting selection over the small integer vote range instead of sorting.
 */
public final class MaskSelector {
    private MaskSelector() {
    }

    /**
     * @param votes  row-major vote counts in {@code [0, maxVote]}
     * @param seed   seed of the layer group's random tie fill
     */
    public static BitMask select(int[] votes, int rows, int cols, int maxVote, SelectionSpec spec, long seed) {
        if ((long) rows * cols != votes.length) {
            throw new IllegalArgumentException(votes.length + " votes for a " + rows + "x" + cols + " tensor");
        }
        BitMask mask = new BitMask(votes.length);
        if (spec.isNm()) {
            if (cols % spec.m() != 0) {
                throw new IllegalArgumentException(spec.n() + ":" + spec.m() + " pattern needs the column count " + cols + " to be a multiple of " + spec.m());
            }
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c += spec.m()) {
                    selectGroup(votes, (long) r * cols + c, spec.m(), 1, spec.n(), maxVote, mask, null);
                }
            }
            return mask;
        }
        switch (spec.group()) {
            case LAYER -> {
                int k = (int) ((double) votes.length * spec.sparsityRatio());
                SplittableRandom random = spec.tieBreak() == TieBreak.SEEDED_RANDOM ? new SplittableRandom(seed) : null;
                selectGroup(votes, 0, votes.length, 1, k, maxVote, mask, random);
            }
            case ROW -> {
                int k = (int) (cols * spec.sparsityRatio());
                for (int r = 0; r < rows; r++) {
                    selectGroup(votes, (long) r * cols, cols, 1, k, maxVote, mask, null);
                }
            }
            case COLUMN -> {
                int k = (int) (rows * spec.sparsityRatio());
                for (int c = 0; c < cols; c++) {
                    selectGroup(votes, c, rows, cols, k, maxVote, mask, null);
                }
            }
        }
        return mask;
    }

    /**
     * Marks exactly k of the {@code count} elements {@code start, start+stride, ...} with the most votes.
     * Elements above the threshold vote all go; the rest come from the tied ones, lowest index first or,
     * with a random source, uniformly without replacement (selection sampling, one pass, no buffer).
     */
    private static void selectGroup(int[] votes, long start, int count, int stride, int k, int maxVote, BitMask mask,
                                    SplittableRandom random) {
        if (k <= 0) {
            return;
        }
        int[] histogram = new int[maxVote + 2];
        for (int i = 0; i < count; i++) {
            histogram[Math.min(votes[(int) (start + (long) i * stride)], maxVote + 1)]++;
        }
        int threshold = histogram.length - 1;
        int above = 0;
        while (threshold > 0 && above + histogram[threshold] < k) {
            above += histogram[threshold];
            threshold--;
        }
        int tiedNeeded = k - above;
        int tiedLeft = histogram[threshold];
        for (int i = 0; i < count; i++) {
            long index = start + (long) i * stride;
            int v = votes[(int) index];
            if (v > threshold) {
                mask.set(index);
            } else if (v == threshold && tiedNeeded > 0) {
                boolean take = random == null || random.nextInt(tiedLeft) < tiedNeeded;
                if (take) {
                    mask.set(index);
                    tiedNeeded--;
                }
                tiedLeft--;
            }
        }
    }
}
