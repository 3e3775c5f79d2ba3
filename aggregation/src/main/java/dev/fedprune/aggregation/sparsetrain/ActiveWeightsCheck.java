package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.Map;

/**
 * Checks an agent's sparse weight upload against the round's keep-masks before it is folded: every
 * layer present, sizes matching, indices ascending and in range, finite values, and no value at an
 * inactive weight (masked training keeps those at exactly 0, so an entry there is a broken agent).
 */
public final class ActiveWeightsCheck {

    private ActiveWeightsCheck() {
    }

    /** Throws {@link InvalidContributionException} naming {@code weights[layer]} at the first problem. */
    public static void check(Map<String, SparseTensor> weights, Map<String, BitMask> keepMasks) {
        for (String layer : weights.keySet()) {
            if (!keepMasks.containsKey(layer)) {
                throw new InvalidContributionException("weights", "unknown sparse layer '" + layer + "'");
            }
        }
        for (Map.Entry<String, BitMask> e : keepMasks.entrySet()) {
            String field = "weights[" + e.getKey() + "]";
            SparseTensor t = weights.get(e.getKey());
            if (t == null) {
                throw new InvalidContributionException("weights", "sparse layer '" + e.getKey() + "' is missing");
            }
            BitMask keep = e.getValue();
            if (t.size() != keep.length()) {
                throw new InvalidContributionException(field, "size " + t.size() + ", the job's mask has " + keep.length() + " weights");
            }
            String problem = t.problem();
            if (problem != null) {
                throw new InvalidContributionException(field, problem);
            }
            long[] words = keep.words();
            int[] indices = t.indices();
            for (int i = 0; i < indices.length; i++) {
                int index = indices[i];
                if ((words[index >>> 6] & (1L << index)) == 0 && t.values()[i] != 0) {
                    throw new InvalidContributionException(field, "value " + t.values()[i] + " at index " + index
                            + " (position " + i + ") is at an inactive weight");
                }
            }
        }
    }
}
