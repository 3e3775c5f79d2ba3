package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;

/**
 * Step 3 of FedPrLLM (algorithms.md 1.4-1.5): zero the pruned weights and optionally scale each kept
 * weight by the fraction of votes that kept it, {@code W * (m - V) / m}. The factor is computed in
 * double and the product rounded once to float (the reference uses fp16; results agree within 1e-3).
 */
public final class WeightPruning {
    private WeightPruning() {
    }

    /**
     * @param weights row-major dense weights, not modified
     * @param mask    prune mask (set bit = remove) of the same length
     * @param votes   per-weight vote counts, needed only when {@code scale}
     * @param m       number of agents (or total vote weight) the votes were counted over
     * @return a new array with pruned weights exactly 0
     */
    public static float[] prune(float[] weights, BitMask mask, int[] votes, long m, boolean scale) {
        if (mask.length() != weights.length) {
            throw new IllegalArgumentException("mask of " + mask.length() + " bits for " + weights.length + " weights");
        }
        return prune(weights, mask, 0, votes, m, scale);
    }

    /**
     * The same for a slice of a tensor: {@code weights} and {@code votes} hold elements
     * {@code [from, from + weights.length)} and {@code mask} covers the whole tensor, so a tensor larger
     * than the heap allows is pruned a slice at a time with the same result.
     */
    public static float[] prune(float[] weights, BitMask mask, long from, int[] votes, long m, boolean scale) {
        if (from < 0 || from + weights.length > mask.length()) {
            throw new IllegalArgumentException("weights [" + from + ", " + (from + weights.length) + ") outside a mask of "
                    + mask.length() + " bits");
        }
        if (scale) {
            if (votes == null || votes.length != weights.length) {
                throw new IllegalArgumentException("weight scaling needs " + weights.length + " vote counts, got "
                        + (votes == null ? "none" : String.valueOf(votes.length)));
            }
            if (m < 1) {
                throw new IllegalArgumentException("weight scaling needs at least one agent, m = " + m);
            }
        }
        float[] out = new float[weights.length];
        long[] words = mask.words();
        for (int i = 0; i < weights.length; i++) {
            long bit = from + i;
            if ((words[(int) (bit >>> 6)] & (1L << bit)) != 0) {
                continue; // stays exactly 0
            }
            out[i] = scale ? (float) (weights[i] * ((double) (m - votes[i]) / m)) : weights[i];
        }
        return out;
    }
}
