package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.Arrays;

/**
 * The server's prune-and-grow step on one layer in a FedTiny adjustment round (algorithms.md 3.4 B4,
 * O-12): deactivate the {@code k} active weights with the smallest {@code |θ|} of the aggregated
 * weights (ties: lowest index), activate the {@code k} candidates with the largest aggregated
 * {@code |ĝ|} (ties: lowest index), start grown weights at 0 and zero every inactive weight. The
 * layer's density is unchanged. Masks here are keep-masks: a set bit is an active weight.
 */
public final class PruneAndGrow {

    /** Whether weights pruned in this step may be regrown in the same step. */
    public enum Regrowth {
        /** Growth candidates are computed after pruning, as the reference code does (default). */
        ALLOW_JUST_PRUNED,
        /** Only weights that were inactive before the step can grow. */
        EXCLUDE_JUST_PRUNED
    }

    /**
     * The layer after the step.
     *
     * @param keep    the new keep-mask
     * @param weights the new weights: aggregated values where still active, 0 where grown or inactive
     * @param pruned  indices deactivated, ascending
     * @param grown   indices activated, ascending (may include pruned ones under ALLOW_JUST_PRUNED)
     */
    public record LayerAdjustment(BitMask keep, float[] weights, int[] pruned, int[] grown) {
    }

    private PruneAndGrow() {
    }

    /**
     * The {@code k} active weights with the smallest {@code |θ|}, ordered by ({@code |θ|} ascending,
     * index ascending), returned as indices ascending: the weights this step prunes. FedMef's agents
     * use it to mark the same weights for extrusion before the server prunes them.
     *
     * @throws IllegalArgumentException if the mask length differs from the layer, an active weight is
     *                                  not finite, or {@code k} is outside {@code [0, active count]}
     */
    public static int[] smallestActive(float[] weights, BitMask keep, int k) {
        int n = weights.length;
        if (keep.length() != n) {
            throw new IllegalArgumentException("keep-mask of " + keep.length() + " bits for a layer of " + n + " weights");
        }
        int active = (int) keep.cardinality();
        if (k < 0 || k > active) {
            throw new IllegalArgumentException("k = " + k + " must lie in [0, active count " + active + "]");
        }
        long[] words = keep.words();
        long[] keys = new long[active];
        for (int i = 0, j = 0; i < n; i++) {
            if ((words[i >>> 6] & (1L << i)) != 0) {
                if (!Float.isFinite(weights[i])) {
                    throw new IllegalArgumentException("weight at index " + i + " is not finite: " + weights[i]);
                }
                // |θ| is non-negative, so its float bits order like its value.
                keys[j++] = ((long) Float.floatToIntBits(Math.abs(weights[i])) << 32) | i;
            }
        }
        Arrays.sort(keys);
        int[] smallest = new int[k];
        for (int j = 0; j < k; j++) {
            smallest[j] = (int) keys[j];
        }
        Arrays.sort(smallest);
        return smallest;
    }

    /** The step with a dense aggregated gradient. */
    public static LayerAdjustment adjust(float[] weights, BitMask keep, float[] gradient, int k, Regrowth regrowth) {
        if (gradient.length != weights.length) {
            throw new IllegalArgumentException("gradient has " + gradient.length + " values, the layer " + weights.length);
        }
        return adjust(weights, keep, SparseTensor.ofDense(gradient), k, regrowth);
    }

    /**
     * The step with the aggregated top-K gradients (coordinates absent from {@code gradient} are 0).
     * When fewer than {@code k} candidates carry a non-zero gradient, the rest is filled with the
     * lowest-index candidates, which is what the tie rule gives on a dense gradient.
     */
    public static LayerAdjustment adjust(float[] weights, BitMask keep, SparseTensor gradient, int k, Regrowth regrowth) {
        int n = weights.length;
        if (keep.length() != n) {
            throw new IllegalArgumentException("keep-mask of " + keep.length() + " bits for a layer of " + n + " weights");
        }
        if (gradient.size() != n) {
            throw new IllegalArgumentException("gradient of size " + gradient.size() + " for a layer of " + n + " weights");
        }
        String problem = gradient.problem();
        if (problem != null) {
            throw new IllegalArgumentException("gradient: " + problem);
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(weights[i])) {
                throw new IllegalArgumentException("weight at index " + i + " is not finite: " + weights[i]);
            }
        }
        int active = (int) keep.cardinality();
        if (k < 0 || k > active || k > n - active) {
            throw new IllegalArgumentException("k = " + k + " must lie in [0, min(active " + active + ", inactive " + (n - active) + ")]");
        }
        int[] pruned = smallestActive(weights, keep, k);
        BitMask afterPrune = keep.copy();
        for (int i : pruned) {
            afterPrune.set(i, false);
        }
        long[] candidateWords = (regrowth == Regrowth.ALLOW_JUST_PRUNED ? afterPrune : keep).words();

        // Grow: k largest |ĝ| among the candidates, by (|ĝ| descending, index ascending).
        int[] gi = gradient.indices();
        float[] gv = gradient.values();
        long[] growKeys = new long[gi.length];
        int m = 0;
        for (int j = 0; j < gi.length; j++) {
            int i = gi[j];
            if (gv[j] != 0 && (candidateWords[i >>> 6] & (1L << i)) == 0) {
                growKeys[m++] = ((long) (Integer.MAX_VALUE - Float.floatToIntBits(Math.abs(gv[j]))) << 32) | i;
            }
        }
        Arrays.sort(growKeys, 0, m);
        BitMask result = afterPrune.copy();
        int[] grown = new int[k];
        int g = 0;
        for (int j = 0; j < m && g < k; j++) {
            int i = (int) growKeys[j];
            grown[g++] = i;
            result.set(i);
        }
        BitMask withGradient = new BitMask(n);
        for (int j = 0; j < g; j++) {
            withGradient.set(grown[j]);
        }
        for (int i = 0; i < n && g < k; i++) {
            boolean candidate = (candidateWords[i >>> 6] & (1L << i)) == 0;
            if (candidate && !withGradient.get(i)) {
                grown[g++] = i;
                result.set(i);
            }
        }
        Arrays.sort(grown);

        float[] out = new float[n];
        long[] resultWords = result.words();
        long[] keptWords = afterPrune.words();
        for (int i = 0; i < n; i++) {
            long bit = 1L << i;
            // Still active and not just grown: keep the aggregated value; grown and inactive weights are 0.
            if ((resultWords[i >>> 6] & bit) != 0 && (keptWords[i >>> 6] & bit) != 0) {
                out[i] = weights[i];
            }
        }
        return new LayerAdjustment(result, out, pruned, grown);
    }
}
