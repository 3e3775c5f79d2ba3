package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;

/**
 * Column-group selection on {@link BitSlicedVotes}: exactly {@code k} weights per column with the most
 * votes, ties by lowest row, from per-column vote histograms built by streaming the decoded rows, so the
 * whole tensor is never decoded at once (unless those histograms would be larger still).
 */
final class ColumnVoteSelection {
    private ColumnVoteSelection() {
    }

    /** As {@link BitSlicedVotes#selectColumns}; flushes the pending counts first. */
    static BitMask select(BitSlicedVotes votes, int rows, int cols, int k) {
        votes.flush();
        BitMask mask = new BitMask(votes.length());
        if (k <= 0 || rows == 0 || cols == 0) {
            return mask;
        }
        long bins = votes.total() + 1;
        if ((long) cols * bins > (1 << 24)) {
            MaskSelector.selectColumns(votes.decodeAll(), rows, cols, k, mask, new MaskSelector.GroupSelector(votes.total()));
            return mask;
        }
        int h = (int) bins;
        int[] histogram = new int[cols * h];
        int[] row = new int[cols];
        for (int r = 0; r < rows; r++) {
            votes.decode((long) r * cols, cols, row, 0);
            for (int c = 0; c < cols; c++) {
                histogram[c * h + row[c]]++;
            }
        }
        int[] threshold = new int[cols];
        int[] tiedNeeded = new int[cols];
        for (int c = 0; c < cols; c++) {
            int base = c * h;
            int t = h - 1;
            int above = 0;
            while (t > 0 && above + histogram[base + t] < k) {
                above += histogram[base + t];
                t--;
            }
            threshold[c] = t;
            tiedNeeded[c] = k - above;
        }
        long[] out = mask.words();
        for (int r = 0; r < rows; r++) {
            votes.decode((long) r * cols, cols, row, 0);
            long base = (long) r * cols;
            for (int c = 0; c < cols; c++) {
                int v = row[c];
                if (v > threshold[c] || v == threshold[c] && tiedNeeded[c]-- > 0) {
                    long index = base + c;
                    out[(int) (index >>> 6)] |= 1L << index;
                }
            }
        }
        return mask;
    }
}
