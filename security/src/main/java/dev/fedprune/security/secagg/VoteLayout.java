package dev.fedprune.security.secagg;

import java.util.List;

/**
 * How a round's masks become one vote vector and its sum becomes counts again: the round's tensors, in the
 * task's order, each row-major, concatenated without padding (field {@code offset(t) + i} is weight i of
 * tensor t). The agent packs its masks with {@link #concatenate}; the coordinator reads each tensor's vote
 * counts back with {@link #counts}.
 */
public final class VoteLayout {
    private VoteLayout() {
    }

    /**
     * One bit stream (word i/64, bit i%64) of every mask in order.
     *
     * @param masks   each mask's words (bit j of word j/64 = weight j), no bits set beyond its length
     * @param lengths each mask's number of weights
     */
    public static long[] concatenate(List<long[]> masks, long[] lengths) {
        long total = 0;
        for (long length : lengths) {
            total += length;
        }
        long[] out = new long[Math.toIntExact((total + 63) >>> 6)];
        long offset = 0;
        for (int t = 0; t < lengths.length; t++) {
            long[] words = masks.get(t);
            int shift = (int) (offset & 63);
            int base = (int) (offset >>> 6);
            for (int w = 0; w < (lengths[t] + 63) >>> 6; w++) {
                out[base + w] |= words[w] << shift;
                if (shift != 0 && base + w + 1 < out.length) {
                    out[base + w + 1] |= words[w] >>> (64 - shift);
                }
            }
            offset += lengths[t];
        }
        return out;
    }

    /** Fields {@code [offset, offset + length)} of a vector as counts. */
    public static int[] counts(VoteVector votes, long offset, int length) {
        int[] out = new int[length];
        int start = Math.toIntExact(offset);
        for (int i = 0; i < length; i++) {
            out[i] = (int) votes.get(start + i);
        }
        return out;
    }
}
