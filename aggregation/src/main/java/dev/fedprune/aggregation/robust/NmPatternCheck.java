package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import java.util.Map;

/**
 * Rejects a mask of an N:M job that does not prune exactly N of every M consecutive weights of a row
 * (blocks start at column multiples of M, algorithms.md 2.4).
 *
 * @param columns the column count of each tensor, by name (tensors not listed are not checked)
 */
public record NmPatternCheck(int n, int m, Map<String, Long> columns) implements MaskCheck {

    public NmPatternCheck {
        if (n < 1 || m < n || m > 64) {
            throw new IllegalArgumentException("N:M pattern needs 0 < N <= M <= 64, got " + n + ":" + m);
        }
        columns = Map.copyOf(columns);
    }

    @Override
    public void check(Map<String, BitMask> masks) {
        masks.forEach((tensor, mask) -> {
            Long cols = columns.get(tensor);
            if (cols == null) {
                return;
            }
            if (cols % m != 0) {
                throw new InvalidContributionException("masks[" + tensor + "]", "an " + n + ":" + m + " pattern needs the column count "
                        + cols + " to be a multiple of " + m);
            }
            long[] words = mask.words();
            for (long start = 0; start < mask.length(); start += m) {
                int count = blockCount(words, start, m);
                if (count != n) {
                    throw new InvalidContributionException("masks[" + tensor + "]", "block of " + m + " at row " + start / cols
                            + ", column " + start % cols + " prunes " + count + " weights, expected " + n + " (" + n + ":" + m + ")");
                }
            }
        });
    }

    private static int blockCount(long[] words, long start, int width) {
        int w = (int) (start >>> 6);
        int offset = (int) (start & 63);
        long bits = words[w] >>> offset;
        if (offset + width > 64) {
            bits |= words[w + 1] << (64 - offset);
        }
        return Long.bitCount(width == 64 ? bits : bits & ((1L << width) - 1));
    }
}
