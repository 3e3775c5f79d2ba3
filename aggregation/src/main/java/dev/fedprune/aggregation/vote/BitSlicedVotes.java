package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;
import java.util.SplittableRandom;

/**
 * The vote counts of one tensor stored bit-sliced ("vertical counters"): plane {@code p} is a bit set
 * over the tensor's flat indices holding bit {@code p} of every weight's count, so one 64-bit
 * operation updates 64 counters.
 *
 * <p>Two levels keep a fold's memory traffic low whatever the number of agents. Unweighted masks are
 * added into a 4-plane <em>pending</em> counter stored interleaved ({@code pending[4w + p]}, so one
 * word's four planes share a cache line) by a ripple-carry add of at most four steps; every 15 folds,
 * or before any read, the pending counts (at most 15) are added into the main counter with a
 * bit-sliced full adder and cleared. The main counter is plane-major in one array
 * ({@code main[p * words + w]}), preallocated for a vote capacity (16 planes = 65535 votes by
 * default): memory is {@code (planes + 4) / 8} bytes per weight, independent of the number of agents,
 * and grows by one plane per doubling only past the capacity, so counts never overflow. Weighted masks
 * are added into the main counter directly, once per set bit of the weight. Not thread-safe; the
 * accumulator serialises access.
 */
final class BitSlicedVotes {
    private static final int PENDING_PLANES = 4;
    private static final int PENDING_LIMIT = (1 << PENDING_PLANES) - 1;

    private final long length;
    private final int wordCount;
    private final long[] pending;
    private int pendingFolds;
    private long[] main;
    private int planeCount;
    /** Sum of the weights folded so far: the largest value any count can hold. */
    private long total;

    BitSlicedVotes(long length, int initialPlanes) {
        this.length = length;
        this.wordCount = Math.toIntExact((length + 63) >>> 6);
        this.pending = new long[Math.multiplyExact(wordCount, PENDING_PLANES)];
        this.planeCount = initialPlanes;
        this.main = new long[Math.multiplyExact(wordCount, initialPlanes)];
    }

    long length() {
        return length;
    }

    long total() {
        return total;
    }

    /** Bytes of counters held (main planes and the pending counter). */
    long bytes() {
        return 8L * (main.length + pending.length);
    }

    /** Planes that can hold a set bit for counts up to {@code total}. */
    private int activePlanes() {
        return 64 - Long.numberOfLeadingZeros(total);
    }

    /** Makes room for counts up to {@code newTotal}; adds planes only past the preallocated capacity. */
    void ensureCapacity(long newTotal) {
        int needed = 64 - Long.numberOfLeadingZeros(newTotal);
        if (needed > planeCount) {
            main = java.util.Arrays.copyOf(main, Math.multiplyExact(wordCount, needed));
            planeCount = needed;
        }
    }

    /** Adds {@code weight} to the count of every weight whose mask bit is set. */
    void add(long[] mask, long weight) {
        ensureCapacity(total + weight);
        if (weight == 1) {
            if (pendingFolds == PENDING_LIMIT) {
                flush();
            }
            addPending(mask);
            pendingFolds++;
        } else {
            for (int shift = 0; shift < 63; shift++) {
                if ((weight >>> shift & 1) != 0) {
                    addToMain(mask, shift);
                }
            }
        }
        total += weight;
    }

    /** Adds vote counts summed elsewhere (secure aggregation), each at most {@code maxCount}, plane by plane. */
    void addCounts(int[] counts, long maxCount) {
        ensureCapacity(total + maxCount);
        long[] plane = new long[wordCount];
        for (int p = 0; p < 64 - Long.numberOfLeadingZeros(maxCount); p++) {
            java.util.Arrays.fill(plane, 0);
            for (int i = 0; i < counts.length; i++) {
                plane[i >>> 6] |= (long) (counts[i] >>> p & 1) << i;
            }
            addToMain(plane, p);
        }
        total += maxCount;
    }

    private void addPending(long[] mask) {
        long[] c = pending;
        for (int w = 0, b = 0; w < mask.length; w++, b += PENDING_PLANES) {
            long carry = mask[w];
            long t0 = c[b];
            c[b] = t0 ^ carry;
            carry &= t0;
            long t1 = c[b + 1];
            c[b + 1] = t1 ^ carry;
            carry &= t1;
            long t2 = c[b + 2];
            c[b + 2] = t2 ^ carry;
            carry &= t2;
            c[b + 3] ^= carry; // at most 15 pending folds: no carry out of plane 3
        }
    }

    private void addToMain(long[] mask, int startPlane) {
        long[] m = main;
        int words = wordCount;
        for (int w = 0; w < mask.length; w++) {
            long carry = mask[w];
            int i = startPlane * words + w;
            while (carry != 0) {
                long t = m[i];
                m[i] = t ^ carry;
                carry &= t;
                i += words;
            }
        }
    }

    /** Adds the pending counts into the main planes and clears them. */
    void flush() {
        if (pendingFolds == 0) {
            return;
        }
        long[] m = main;
        long[] c = pending;
        int words = wordCount;
        for (int w = 0, b = 0; w < words; w++, b += PENDING_PLANES) {
            long carry = 0;
            for (int p = 0; p < PENDING_PLANES; p++) {
                int i = p * words + w;
                long a = m[i];
                long x = c[b + p];
                long s = a ^ x;
                m[i] = s ^ carry;
                carry = (a & x) | (carry & s);
                c[b + p] = 0;
            }
            for (int i = PENDING_PLANES * words + w; carry != 0; i += words) {
                long t = m[i];
                m[i] = t ^ carry;
                carry &= t;
            }
        }
        pendingFolds = 0;
    }

    /** True when every weight with a set mask bit has a count of at least {@code weight}. */
    boolean canSubtract(long[] mask, long weight) {
        flush();
        for (int w = 0; w < mask.length; w++) {
            long m = mask[w];
            if (m != 0 && (m & ~greaterOrEqual(w, weight)) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Removes {@code weight} from the count of every weight whose mask bit is set; see {@link #canSubtract}. */
    void subtract(long[] mask, long weight) {
        flush();
        long[] m = main;
        int words = wordCount;
        for (int shift = 0; shift < 63; shift++) {
            if ((weight >>> shift & 1) == 0) {
                continue;
            }
            for (int w = 0; w < mask.length; w++) {
                long borrow = mask[w];
                int i = shift * words + w;
                while (borrow != 0) {
                    long t = m[i];
                    m[i] = t ^ borrow;
                    borrow &= ~t;
                    i += words;
                }
            }
        }
        total -= weight;
    }

    /** Bits of word {@code w} whose count is at least {@code c} (a bit-sliced comparison, MSB first). Flushed counts only. */
    private long greaterOrEqual(int w, long c) {
        if (c <= 0) {
            return tailMask(w);
        }
        int top = activePlanes();
        if (64 - Long.numberOfLeadingZeros(c) > top) {
            return 0;
        }
        long gt = 0;
        long eq = -1L;
        int lowest = Long.numberOfTrailingZeros(c); // planes below c's lowest set bit cannot decide ">="
        for (int p = top - 1; p >= lowest; p--) {
            long x = main[p * wordCount + w];
            if ((c >>> p & 1) != 0) {
                eq &= x;
            } else {
                gt |= eq & x;
                eq &= ~x;
            }
        }
        return (gt | eq) & tailMask(w);
    }

    private long tailMask(int w) {
        if (w == wordCount - 1 && (length & 63) != 0) {
            return -1L >>> (64 - (length & 63));
        }
        return -1L;
    }

    /** Bits of word {@code w} inside the flat index range {@code [from, to)}. */
    private static long rangeMask(int w, long from, long to) {
        long mask = -1L;
        if (w == (int) (from >>> 6)) {
            mask &= -1L << (from & 63);
        }
        if (w == (int) ((to - 1) >>> 6) && (to & 63) != 0) {
            mask &= -1L >>> (64 - (to & 63));
        }
        return mask;
    }

    private long countAtLeast(long c, long from, long to) {
        long n = 0;
        int first = (int) (from >>> 6);
        int last = (int) ((to - 1) >>> 6);
        for (int w = first; w <= last; w++) {
            n += Long.bitCount(greaterOrEqual(w, c) & rangeMask(w, from, to));
        }
        return n;
    }

    /** Counts of {@code count} consecutive weights starting at flat index {@code from}, into {@code out[offset..]}. */
    void decode(long from, int count, int[] out, int offset) {
        flush();
        java.util.Arrays.fill(out, offset, offset + count, 0);
        if (count == 0) {
            return;
        }
        long to = from + count;
        int firstWord = (int) (from >>> 6);
        int lastWord = (int) ((to - 1) >>> 6);
        int top = activePlanes();
        for (int p = 0; p < top; p++) {
            int planeStart = p * wordCount;
            int value = 1 << p;
            for (int w = firstWord; w <= lastWord; w++) {
                long bits = main[planeStart + w];
                if (w == firstWord) {
                    bits &= -1L << (from & 63);
                }
                if (w == lastWord && (to & 63) != 0) {
                    bits &= -1L >>> (64 - (to & 63));
                }
                long base = ((long) w << 6) - from + offset;
                while (bits != 0) {
                    out[(int) (base + Long.numberOfTrailingZeros(bits))] += value;
                    bits &= bits - 1;
                }
            }
        }
    }

    int[] decodeAll() {
        int[] out = new int[Math.toIntExact(length)];
        decode(0, out.length, out, 0);
        return out;
    }

    /**
     * Layer-group selection straight on the planes; see {@link #selectRange}.
     */
    BitMask selectLayer(long k, SplittableRandom random) {
        flush();
        BitMask mask = new BitMask(length);
        if (length > 0) {
            selectRange(0, length, k, random, mask.words());
        }
        return mask;
    }

    /** Row-group selection: exactly {@code k} per row of {@code cols}, ties by lowest column. */
    BitMask selectRows(int cols, int k) {
        flush();
        BitMask mask = new BitMask(length);
        for (long from = 0; from < length; from += cols) {
            selectRange(from, from + cols, k, null, mask.words());
        }
        return mask;
    }

    /**
     * Column-group selection: exactly {@code k} per column, ties by lowest row. Streams the rows twice
     * (per-column vote histograms, then marking), so its extra memory is {@code cols * (total + 1)} ints
     * rather than the decoded tensor; falls back to decoding the tensor when that histogram would exceed
     * 16M entries (more than about 1500 agents on 11008 columns). See {@link ColumnVoteSelection}.
     */
    BitMask selectColumns(int rows, int cols, int k) {
        return ColumnVoteSelection.select(this, rows, cols, k);
    }

    /**
     * Marks in {@code out} exactly {@code k} of the weights in {@code [from, to)} with the most votes,
     * straight on the bit planes: finds the k-th largest count by a radix descent over the bits (one
     * counting pass per bit, no histogram, no sort), marks every weight above it and fills the remaining
     * slots from the tied weights in ascending index order, the first ones or by selection sampling with
     * the given random source ({@link TieFill}). Same result as {@link MaskSelector} on the decoded
     * counts. Counts must be flushed.
     */
    private void selectRange(long from, long to, long k, SplittableRandom random, long[] out) {
        if (k <= 0 || to <= from) {
            return;
        }
        long threshold = 0;
        long atLeastThreshold = to - from;
        for (int bit = activePlanes() - 1; bit >= 0; bit--) {
            long candidate = threshold | (1L << bit);
            long n = countAtLeast(candidate, from, to);
            if (n >= k) {
                threshold = candidate;
                atLeastThreshold = n;
            }
        }
        long above = threshold >= total ? 0 : countAtLeast(threshold + 1, from, to);
        long tiedLeft = atLeastThreshold - above;
        long tiedNeeded = k - above;
        int top = activePlanes();
        int first = (int) (from >>> 6);
        int last = (int) ((to - 1) >>> 6);
        for (int w = first; w <= last; w++) {
            // One bit-sliced comparison against the threshold gives both "above" and "tied".
            long range = rangeMask(w, from, to) & tailMask(w);
            long gt = 0;
            long eq = range;
            for (int p = top - 1; p >= 0; p--) {
                long x = main[p * wordCount + w];
                if ((threshold >>> p & 1) != 0) {
                    eq &= x;
                } else {
                    gt |= eq & x;
                    eq &= ~x;
                }
            }
            out[w] |= gt;
            while (eq != 0 && tiedNeeded > 0) {
                if (tiedNeeded >= tiedLeft || random == null && Long.bitCount(eq) <= tiedNeeded) {
                    out[w] |= eq; // every remaining tie of this word is taken: no draw
                    int taken = Long.bitCount(eq);
                    tiedNeeded -= taken;
                    tiedLeft -= taken;
                    break;
                }
                long bit = eq & -eq;
                long take = random == null ? 1 : TieFill.draw(random, tiedNeeded, tiedLeft);
                out[w] |= bit & -take;
                tiedNeeded -= take;
                tiedLeft--;
                eq ^= bit;
            }
        }
    }
}
