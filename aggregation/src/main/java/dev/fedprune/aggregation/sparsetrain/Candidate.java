package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.format.BitMask;
import java.util.List;

/**
 * One coarse-pruned starting point of ABNS: its allocation rule, the resulting layer densities, the
 * whole kept-weight count per layer (which, with the initial weights, is all an agent needs to rebuild
 * the masks, algorithms.md 3.3 A2) and the keep-masks (a set bit is an active weight), one per layer in
 * the order of the layer list.
 */
public record Candidate(int index, Allocation allocation, double[] densities, int[] keptCounts, List<BitMask> keepMasks) {

    public Candidate {
        densities = densities.clone();
        keptCounts = keptCounts.clone();
        keepMasks = List.copyOf(keepMasks);
    }

    @Override
    public double[] densities() {
        return densities.clone();
    }

    @Override
    public int[] keptCounts() {
        return keptCounts.clone();
    }

    public long keptTotal() {
        long total = 0;
        for (int c : keptCounts) {
            total += c;
        }
        return total;
    }
}
