package dev.fedprune.aggregation.sparsetrain;

import java.util.ArrayList;
import java.util.List;

/**
 * Partitions of the sparse layers, in input-to-output order, into the contiguous blocks that
 * progressive pruning adjusts one at a time (algorithms.md 3.4 B5, [S][U]). Each block is a list of
 * layer indices; block 0 is nearest the input.
 */
public final class BlockPartition {

    private BlockPartition() {
    }

    /**
     * {@code blockCount} contiguous blocks of roughly equal weight count: a block closes once the
     * cumulative weight count reaches its share {@code j·total/J}, and every block keeps at least one layer.
     */
    public static List<List<Integer>> balanced(List<LayerShape> layers, int blockCount) {
        int n = layers.size();
        if (blockCount < 1 || blockCount > n) {
            throw new IllegalArgumentException("blockCount must lie in [1, " + n + "] (one layer at least per block), got " + blockCount);
        }
        long total = 0;
        for (LayerShape l : layers) {
            total += l.weightCount();
        }
        List<List<Integer>> blocks = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        long cumulative = 0;
        for (int i = 0; i < n; i++) {
            current.add(i);
            cumulative += layers.get(i).weightCount();
            int remainingLayers = n - i - 1;
            int remainingBlocks = blockCount - blocks.size() - 1;
            boolean reachedShare = cumulative * blockCount >= total * (blocks.size() + 1);
            if (remainingBlocks > 0 && (reachedShare || remainingLayers == remainingBlocks)) {
                blocks.add(List.copyOf(current));
                current.clear();
            }
        }
        blocks.add(List.copyOf(current));
        return List.copyOf(blocks);
    }

    /**
     * The fewest contiguous blocks, filled from the input side, whose top-K buffers fit
     * {@code bufferBudgetBytes}: layer {@code ℓ} needs at most {@code ⌊α·d_ℓ·N_ℓ⌋·8} bytes (an int32
     * index and a float32 value per kept gradient, since {@code k_ℓ ≤ α·|active_ℓ|}).
     */
    public static List<List<Integer>> forBufferBudget(List<LayerShape> layers, int[] keptCounts, double alpha, long bufferBudgetBytes) {
        if (keptCounts.length != layers.size()) {
            throw new IllegalArgumentException("keptCounts: " + keptCounts.length + " values for " + layers.size() + " layers");
        }
        if (!(alpha > 0) || alpha > 1) {
            throw new IllegalArgumentException("alpha must be in (0, 1], got " + alpha);
        }
        List<List<Integer>> blocks = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        long used = 0;
        for (int i = 0; i < layers.size(); i++) {
            long bytes = 8L * (long) (alpha * keptCounts[i]);
            if (bytes > bufferBudgetBytes) {
                throw new IllegalArgumentException("layer '" + layers.get(i).name() + "' needs a top-K buffer of " + bytes
                        + " bytes, more than the budget of " + bufferBudgetBytes);
            }
            if (used + bytes > bufferBudgetBytes && !current.isEmpty()) {
                blocks.add(List.copyOf(current));
                current.clear();
                used = 0;
            }
            current.add(i);
            used += bytes;
        }
        blocks.add(List.copyOf(current));
        return List.copyOf(blocks);
    }

    /** {@code Σ_{ℓ ∈ block} 8·k_ℓ}: bytes of the top-K buffers of one block for the given counts. */
    public static long bufferBytes(List<Integer> block, int[] adjustCounts) {
        long bytes = 0;
        for (int i : block) {
            bytes += 8L * adjustCounts[i];
        }
        return bytes;
    }
}
