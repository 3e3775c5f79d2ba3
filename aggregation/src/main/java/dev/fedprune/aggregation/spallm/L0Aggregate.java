package dev.fedprune.aggregation.spallm;

/**
 * The l0-norm aggregate of one tensor: for every flat row-major index, how many of the
 * {@code agentCount} agents kept the weight and the mean of their values (0 where nobody kept it).
 * The arrays are owned by the record; callers must not modify them.
 */
public record L0Aggregate(String tensor, int agentCount, int[] keepCounts, float[] weights) {

    public L0Aggregate {
        if (keepCounts.length != weights.length) {
            throw new IllegalArgumentException(keepCounts.length + " keep counts but " + weights.length + " weights");
        }
    }

    public int size() {
        return weights.length;
    }

    /** How many agents pruned weight {@code index}. */
    public int pruneCount(int index) {
        return agentCount - keepCounts[index];
    }
}
