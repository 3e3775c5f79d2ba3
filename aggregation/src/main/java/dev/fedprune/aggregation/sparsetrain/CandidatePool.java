package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.format.BitMask;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds the FedTiny ABNS candidate pool (algorithms.md 3.3 A1): layer-wise magnitude pruning of the
 * same initial weights under different layer-wise allocations that keep exactly the same number of
 * weights in total, {@code Σ_ℓ ⌊d·N_ℓ⌋}. The allocations are configurable because the rule is an
 * unverified reconstruction [U]; the reference library instead re-initialised the weights under one
 * fixed mask. Deterministic: the same weights, density and allocations give the same masks.
 */
public final class CandidatePool {

    private CandidatePool() {
    }

    /**
     * The recommended pool of {@code count} allocations: ERK, uniform, ER, then Dirichlet perturbations
     * of ERK with seeds {@code seed, seed + 1, …} (only the first {@code count} of that list).
     */
    public static List<Allocation> defaultAllocations(int count, double concentration, long seed) {
        if (count < 1) {
            throw new IllegalArgumentException("candidate count must be >= 1, got " + count);
        }
        List<Allocation> out = new ArrayList<>(List.of(new Allocation.Erk(), new Allocation.Uniform(), new Allocation.Er()));
        for (int i = 0; out.size() < count; i++) {
            out.add(new Allocation.DirichletErk(concentration, seed + i));
        }
        return List.copyOf(out.subList(0, count));
    }

    /**
     * One candidate per allocation, in order.
     *
     * @param initialWeights the dense initial weights {@code θ0} of every layer, in the order of {@code layers}
     */
    public static List<Candidate> generate(List<LayerShape> layers, List<float[]> initialWeights, double density,
                                           List<Allocation> allocations) {
        if (initialWeights.size() != layers.size()) {
            throw new IllegalArgumentException("initialWeights: " + initialWeights.size() + " tensors for " + layers.size() + " layers");
        }
        for (int l = 0; l < layers.size(); l++) {
            float[] w = initialWeights.get(l);
            if (w.length != layers.get(l).weightCount()) {
                throw new IllegalArgumentException("initialWeights[" + layers.get(l).name() + "]: " + w.length + " values, shape "
                        + Arrays.toString(layers.get(l).shape()) + " has " + layers.get(l).weightCount());
            }
            for (int i = 0; i < w.length; i++) {
                if (!Float.isFinite(w[i])) {
                    throw new IllegalArgumentException("initialWeights[" + layers.get(l).name() + "] at index " + i + " is not finite: " + w[i]);
                }
            }
        }
        if (allocations.isEmpty()) {
            throw new IllegalArgumentException("allocations: at least one candidate is needed");
        }
        long budget = DensityAllocation.budget(layers, density);
        List<Candidate> out = new ArrayList<>();
        for (int c = 0; c < allocations.size(); c++) {
            Allocation allocation = allocations.get(c);
            double[] densities = allocation.densities(layers, density);
            int[] counts = DensityAllocation.keptCounts(layers, densities, budget);
            out.add(new Candidate(c, allocation, densities, counts, keepMasks(initialWeights, counts)));
        }
        return out;
    }

    /** Rebuilds a candidate's keep-masks from the initial weights and its kept counts (agent side, A2). */
    public static List<BitMask> keepMasks(List<float[]> weights, int[] keptCounts) {
        if (weights.size() != keptCounts.length) {
            throw new IllegalArgumentException(weights.size() + " tensors but " + keptCounts.length + " kept counts");
        }
        List<BitMask> masks = new ArrayList<>();
        for (int l = 0; l < keptCounts.length; l++) {
            masks.add(magnitudeKeepMask(weights.get(l), keptCounts[l]));
        }
        return masks;
    }

    /** Keeps the {@code keptCount} weights with the largest {@code |θ|}, ties to the lowest index (0.3). */
    public static BitMask magnitudeKeepMask(float[] weights, int keptCount) {
        if (keptCount < 0 || keptCount > weights.length) {
            throw new IllegalArgumentException("keptCount " + keptCount + " must lie in [0, " + weights.length + "]");
        }
        long[] keys = new long[weights.length];
        for (int i = 0; i < weights.length; i++) {
            keys[i] = ((long) (Integer.MAX_VALUE - Float.floatToIntBits(Math.abs(weights[i]))) << 32) | i;
        }
        Arrays.sort(keys);
        BitMask keep = new BitMask(weights.length);
        for (int j = 0; j < keptCount; j++) {
            keep.set((int) keys[j]);
        }
        return keep;
    }
}
