package dev.fedprune.agent.prune;

import dev.fedprune.aggregation.format.BitMask;

/**
 * Exact "k smallest within a group" selection under the stable tie rule of algorithms.md 0.3: elements
 * are ordered by (score ascending, index ascending) and the first k are marked. Runs in linear time
 * (quickselect on packed 64-bit keys for rows, a two-pass radix select for whole matrices) instead of
 * sorting each group.
 */
public final class MaskSelect {
    /** Groups longer than this use radix selection, which needs no per-element scratch. */
    static final int QUICKSELECT_LIMIT = 1 << 16;

    private MaskSelect() {
    }

    /** Order-preserving map of a float to an unsigned-comparable int (-0 is +0). */
    static int sortableBits(float score) {
        int bits = Float.floatToIntBits(score + 0.0f);
        return (bits ^ ((bits >> 31) & 0x7fffffff)) ^ 0x80000000;
    }

    /** Number of elements removed from a group of {@code size} at ratio {@code s}: {@code (long)(size * s)}. */
    public static long count(long size, double sparsityRatio) {
        return (long) (size * sparsityRatio);
    }

    /**
     * Marks in {@code mask} (at {@code maskOffset + i - from}) the {@code k} smallest of
     * {@code scores[from, from+length)}. {@code scratch} must hold {@code length} longs when the group is
     * at most {@link #QUICKSELECT_LIMIT}; it may be null otherwise.
     */
    public static void smallest(float[] scores, int from, int length, long k, BitMask mask, long maskOffset, long[] scratch) {
        if (k <= 0) {
            return;
        }
        if (k >= length) {
            for (int i = 0; i < length; i++) {
                mask.set(maskOffset + i);
            }
            return;
        }
        if (length <= QUICKSELECT_LIMIT) {
            long[] keys = scratch != null && scratch.length >= length ? scratch : new long[length];
            for (int i = 0; i < length; i++) {
                keys[i] = ((long) sortableBits(scores[from + i]) << 32 ^ Long.MIN_VALUE) | i;
            }
            long pivot = select(keys, length, (int) k - 1);
            for (int i = 0; i < length; i++) {
                long key = ((long) sortableBits(scores[from + i]) << 32 ^ Long.MIN_VALUE) | i;
                if (key <= pivot) {
                    mask.set(maskOffset + i);
                }
            }
            return;
        }
        radixSmallest(scores, from, length, k, mask, maskOffset);
    }

    /** Hoare-style quickselect with median-of-three pivots: the value of rank {@code rank} (0-based). */
    static long select(long[] a, int length, int rank) {
        int lo = 0;
        int hi = length - 1;
        while (hi > lo) {
            int mid = (lo + hi) >>> 1;
            long x = a[lo], y = a[mid], z = a[hi];
            long pivot = x < y ? (y < z ? y : Math.max(x, z)) : (x < z ? x : Math.max(y, z));
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    long t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (rank <= j) {
                hi = j;
            } else if (rank >= i) {
                lo = i;
            } else {
                return a[rank];
            }
        }
        return a[lo];
    }

    private static void radixSmallest(float[] scores, int from, int length, long k, BitMask mask, long maskOffset) {
        int[] counts = new int[1 << 16];
        for (int i = 0; i < length; i++) {
            counts[sortableBits(scores[from + i]) >>> 16]++;
        }
        long below = 0;
        int high = 0;
        while (below + counts[high] < k) {
            below += counts[high++];
        }
        java.util.Arrays.fill(counts, 0);
        for (int i = 0; i < length; i++) {
            int bits = sortableBits(scores[from + i]);
            if (bits >>> 16 == high) {
                counts[bits & 0xffff]++;
            }
        }
        int low = 0;
        while (below + counts[low] < k) {
            below += counts[low++];
        }
        int threshold = (high << 16) | low;
        long ties = k - below; // how many elements equal to the threshold are taken, lowest index first
        for (int i = 0; i < length; i++) {
            int bits = sortableBits(scores[from + i]);
            int cmp = Integer.compareUnsigned(bits, threshold);
            if (cmp < 0 || (cmp == 0 && ties-- > 0)) {
                mask.set(maskOffset + i);
            }
        }
    }

    /**
     * N:M within a row: in each aligned group of {@code m} columns the {@code n} smallest scores
     * (ties: lower column) are marked.
     */
    public static void nOfM(float[] scores, int from, int length, int n, int m, BitMask mask, long maskOffset) {
        for (int g = 0; g < length; g += m) {
            long taken = 0; // bit set of chosen positions in the group (m <= 64)
            for (int pick = 0; pick < n; pick++) {
                int best = -1;
                float bestScore = 0;
                for (int i = 0; i < m; i++) {
                    if ((taken & (1L << i)) != 0) {
                        continue;
                    }
                    float s = scores[from + g + i] + 0.0f;
                    if (best < 0 || Float.compare(s, bestScore) < 0) {
                        best = i;
                        bestScore = s;
                    }
                }
                taken |= 1L << best;
                mask.set(maskOffset + g + best);
            }
        }
    }
}
