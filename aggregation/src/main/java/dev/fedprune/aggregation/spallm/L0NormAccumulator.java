package dev.fedprune.aggregation.spallm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * FedSpaLLM's l0-norm aggregation of one tensor (algorithms.md 1.14): each weight becomes the mean
 * over only the agents that kept it, {@code W[j] = Σ_i M_i[j] W_i[j] / Σ_i M_i[j]}, and 0 when every
 * agent pruned it. An agent uploads its pruned tensor as a {@link SparseTensor}; its keep-mask
 * {@code M_i} is the set of indices present, so a kept weight whose reconstructed value is 0.0 still
 * counts as kept. Agents are folded one at a time as they arrive (12 bytes per weight: a double sum and
 * an int keep count); a fold is all-or-nothing and thread-safe.
 *
 * <p><b>Order independence.</b> The result is bit-identical whatever the fold order, because each
 * weight's sum is kept <em>exact</em>: a double holds the sum of float values exactly while their
 * magnitudes span less than about 29 binades, and every addition is checked with the error-free
 * TwoSum transformation. The first addition with a rounding error moves that weight's sum into an
 * exact {@link BigDecimal} side table (rare: it needs values of one weight more than ~5e8 apart in
 * magnitude), which also holds it from then on. The mean is then a function of the exact sum
 * {@code S} and the count only: {@code (float) (d(S) / count)}, where {@code d(S)} is {@code S} when
 * it is a double and {@link BigDecimal#doubleValue()} of it otherwise (a sum that is not a double
 * can only be reached through the side table, so both paths agree).
 */
public final class L0NormAccumulator {
    private final String tensor;
    private final int size;
    private final double[] sums;
    private final int[] keepCounts;
    /** Exact sums of the weights whose double sum would have rounded. */
    private final Map<Integer, BigDecimal> exactSums = new HashMap<>();
    private final Set<String> agents = new HashSet<>();

    /**
     * @param tensor the tensor's name, used in error messages
     * @param size   its number of weights
     */
    public L0NormAccumulator(String tensor, long size) {
        if (size < 0 || size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor " + tensor + " size must be in [0, " + Integer.MAX_VALUE + "], got " + size);
        }
        this.tensor = tensor;
        this.size = (int) size;
        this.sums = new double[this.size];
        this.keepCounts = new int[this.size];
    }

    public String tensor() {
        return tensor;
    }

    public long size() {
        return size;
    }

    /**
     * Folds one agent's pruned tensor: every index present is a weight it kept, with its value. Rejects,
     * leaving the accumulator unchanged, a repeated agent, a wrong size, unsorted, repeated or
     * out-of-range indices and NaN or infinite values.
     */
    public void fold(String agentId, SparseTensor pruned) {
        String field = "pruned[" + tensor + "]";
        if (pruned.size() != size) {
            throw new InvalidContributionException(field + ".size",
                    "agent " + agentId + " sent " + pruned.size() + " weights, the tensor has " + size);
        }
        String problem = pruned.problem();
        if (problem != null) {
            throw new InvalidContributionException(field, "agent " + agentId + ": " + problem);
        }
        synchronized (this) {
            if (!agents.add(agentId)) {
                throw new InvalidContributionException("agent", "agent " + agentId + " already contributed " + tensor);
            }
            int[] indices = pruned.indices();
            float[] values = pruned.values();
            for (int i = 0; i < indices.length; i++) {
                add(indices[i], values[i]);
            }
        }
    }

    private void add(int index, float value) {
        keepCounts[index]++;
        double a = sums[index];
        double x = value;
        double s = a + x;
        BigDecimal exact = exactSums.get(index);
        if (exact != null) {
            exactSums.put(index, exact.add(new BigDecimal(x)));
        } else if (twoSumError(a, x, s) != 0) {
            // a is still exact here: every earlier addition to this weight was.
            exactSums.put(index, new BigDecimal(a).add(new BigDecimal(x)));
        }
        sums[index] = s;
    }

    /** The rounding error of {@code s = a + x} (Knuth's TwoSum; needs no ordering of |a| and |x|). */
    static double twoSumError(double a, double x, double s) {
        double xVirtual = s - a;
        double aVirtual = s - xVirtual;
        return (a - aVirtual) + (x - xVirtual);
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    /** Weights whose sum needed the exact side table (for logs and tests). */
    public synchronized int exactSpillCount() {
        return exactSums.size();
    }

    /** The l0-norm mean of every weight and how many agents kept each, as folded so far. */
    public synchronized L0Aggregate result() {
        float[] weights = new float[size];
        for (int j = 0; j < size; j++) {
            int count = keepCounts[j];
            if (count > 0) {
                weights[j] = (float) (sums[j] / count);
            }
        }
        exactSums.forEach((j, exact) -> {
            double sum = exact.doubleValue();
            weights[j] = (float) (sum / keepCounts[j]);
        });
        return new L0Aggregate(tensor, agents.size(), keepCounts.clone(), weights);
    }
}
