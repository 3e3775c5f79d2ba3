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
            if ((words[i >>> 6] & (1L << i)) != 0) {
                continue; // stays exactly 0
            }
            out[i] = scale ? (float) (weights[i] * ((double) (m - votes[i]) / m)) : weights[i];
        }
        return out;
    }
}
