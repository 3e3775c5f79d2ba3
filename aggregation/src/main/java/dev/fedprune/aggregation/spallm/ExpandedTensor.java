package dev.fedprune.aggregation.spallm;

import dev.fedprune.aggregation.format.BitMask;

/**
 * The server's FedSpaLLM result for one tensor: the global prune mask (1 = pruned), the aggregated
 * weights with every pruned entry 0, and how the pruned count relates to the target. {@code
 * allPrunedCount} weights were pruned by every agent; {@code prunedCount} exceeds {@code
 * targetPrunedCount} only in the {@code groupsAboveTarget} groups where those alone exceed the target.
 */
public record ExpandedTensor(String tensor, BitMask pruneMask, float[] weights, long targetPrunedCount,
                             long allPrunedCount, long prunedCount, int groupsAboveTarget) {

    /** Weights pruned beyond the target: 0 unless some group's all-pruned weights exceeded it. */
    public long excessPrunedCount() {
        return prunedCount - targetPrunedCount;
    }

    public double sparsityRatio() {
        return weights.length == 0 ? 0 : (double) prunedCount / weights.length;
    }
}
