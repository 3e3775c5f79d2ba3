package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Folds the agents' top-K gradient uploads of one adjustment round into
 * {@code ĝ_ℓ = Σ_k (n_k/n)·g̃_{k,ℓ}} per layer of the adjusted block (algorithms.md 0.4 and 3.4 B4,
 * O-13), on top of {@link SparseFedAvg}. Besides SparseFedAvg's checks it rejects an upload with an
 * index at an active weight (keep-mask bit set) or more entries than the layer's {@code k_ℓ}, and an
 * upload that leaves out a layer of the block. A rejected upload leaves the aggregate unchanged.
 */
public final class TopKGradientAggregator {
    private final Map<String, BitMask> keepMasks;
    private final Map<String, Integer> maxEntries;
    private final SparseFedAvg sums;

    /**
     * @param keepMasks  the current keep-mask of every layer in the block, by layer name
     * @param maxEntries {@code k_ℓ} of every layer in the block
     */
    public TopKGradientAggregator(Map<String, BitMask> keepMasks, Map<String, Integer> maxEntries) {
        if (!keepMasks.keySet().equals(maxEntries.keySet())) {
            throw new IllegalArgumentException("keepMasks names " + keepMasks.keySet() + " but maxEntries names " + maxEntries.keySet());
        }
        Map<String, BitMask> masks = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        keepMasks.forEach((layer, mask) -> {
            int k = maxEntries.get(layer);
            if (k < 0 || k > mask.length() - mask.cardinality()) {
                throw new IllegalArgumentException("maxEntries[" + layer + "] = " + k + " must lie in [0, inactive " + (mask.length() - mask.cardinality()) + "]");
            }
            masks.put(layer, mask.copy());
            shapes.put(layer, new long[] {mask.length()});
        });
        this.keepMasks = masks;
        this.maxEntries = Map.copyOf(maxEntries);
        this.sums = new SparseFedAvg(shapes);
    }

    public Set<String> layers() {
        return keepMasks.keySet();
    }

    /** Folds one agent's signed top-K gradients, weighted by its sample count. */
    public void fold(String agentId, long sampleCount, Map<String, SparseTensor> gradients) {
        for (String layer : gradients.keySet()) {
            if (!keepMasks.containsKey(layer)) {
                throw new InvalidContributionException("gradients", "layer '" + layer + "' is not in the adjusted block " + keepMasks.keySet());
            }
        }
        for (Map.Entry<String, BitMask> e : keepMasks.entrySet()) {
            String layer = e.getKey();
            SparseTensor g = gradients.get(layer);
            String field = "gradients[" + layer + "]";
            if (g == null) {
                throw new InvalidContributionException("gradients", "layer '" + layer + "' of the adjusted block is missing");
            }
            BitMask keep = e.getValue();
            if (g.size() != keep.length()) {
                throw new InvalidContributionException(field, "size " + g.size() + ", expected " + keep.length());
            }
            String problem = g.problem();
            if (problem != null) {
                throw new InvalidContributionException(field, problem);
            }
            int k = maxEntries.get(layer);
            if (g.nonZeroCount() > k) {
                throw new InvalidContributionException(field, g.nonZeroCount() + " entries, at most k = " + k + " allowed");
            }
            long[] words = keep.words();
            int[] indices = g.indices();
            for (int i = 0; i < indices.length; i++) {
                int index = indices[i];
                if ((words[index >>> 6] & (1L << index)) != 0) {
                    throw new InvalidContributionException(field, "index " + index + " (position " + i + ") points at an active weight; only inactive weights carry gradients");
                }
            }
        }
        sums.fold(agentId, sampleCount, gradients);
    }

    /** {@code ĝ_ℓ} at the coordinates at least one agent sent. */
    public SparseTensor aggregated(String layer) {
        return sums.averageSparse(layer);
    }

    public int agentCount() {
        return sums.agentCount();
    }

    public long totalSamples() {
        return sums.totalSamples();
    }
}
