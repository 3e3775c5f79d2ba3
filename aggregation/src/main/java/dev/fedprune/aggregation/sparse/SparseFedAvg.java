package dev.fedprune.aggregation.sparse;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Sparse FedAvg of one round (algorithms.md 0.4): {@code θ = Σ_k (n_k / n) θ_k} per tensor, where
 * {@code θ_k} is zero at every coordinate agent {@code k} did not send and {@code n} is the total
 * sample count of the agents folded in the round. Agents may send only their surviving weights (or
 * their top-K gradients) and may have different masks. Contributions are folded as they arrive into
 * one double-precision sum per weight (8 bytes per weight, whatever the number of agents); a fold is
 * all-or-nothing and thread-safe.
 */
public final class SparseFedAvg {
    private final Map<String, long[]> shapes;
    private final Map<String, double[]> sums = new LinkedHashMap<>();
    private final Map<String, BitMask> support = new LinkedHashMap<>();
    private final Set<String> agents = new LinkedHashSet<>();
    private long totalSamples;

    /** @param shapes the shape of every tensor that is averaged, by tensor name */
    public SparseFedAvg(Map<String, long[]> shapes) {
        Map<String, long[]> copy = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> {
            long size = 1;
            for (long d : shape) {
                size = Math.multiplyExact(size, d);
            }
            int n = Math.toIntExact(size);
            copy.put(name, shape.clone());
            sums.put(name, new double[n]);
            support.put(name, new BitMask(n));
        });
        this.shapes = Collections.unmodifiableMap(copy);
    }

    public Map<String, long[]> shapes() {
        return shapes;
    }

    /**
     * Folds one agent's sparse tensors weighted by its sample count. Tensors it does not send count as
     * all zero. Rejects, leaving everything unchanged: a repeated agent, a sample count below 1, an
     * unknown tensor, a wrong size, unsorted or out-of-range indices, NaN or infinite values.
     */
    public void fold(String agentId, long sampleCount, Map<String, SparseTensor> update) {
        if (sampleCount < 1) {
            throw new InvalidContributionException("sampleCount", "agent " + agentId + " must report at least 1 sample, got " + sampleCount);
        }
        for (Map.Entry<String, SparseTensor> e : update.entrySet()) {
            long[] shape = shapes.get(e.getKey());
            if (shape == null) {
                throw new InvalidContributionException("updates", "unknown tensor '" + e.getKey() + "'");
            }
            SparseTensor t = e.getValue();
            long expected = sums.get(e.getKey()).length;
            if (t.size() != expected) {
                throw new InvalidContributionException("updates[" + e.getKey() + "]",
                        "size " + t.size() + ", expected " + expected + " " + java.util.Arrays.toString(shape));
            }
            String problem = t.problem();
            if (problem != null) {
                throw new InvalidContributionException("updates[" + e.getKey() + "]", problem);
            }
        }
        synchronized (this) {
            if (agents.contains(agentId)) {
                throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
            }
            for (Map.Entry<String, SparseTensor> e : update.entrySet()) {
                double[] sum = sums.get(e.getKey());
                long[] seen = support.get(e.getKey()).words();
                int[] indices = e.getValue().indices();
                float[] values = e.getValue().values();
                for (int i = 0; i < indices.length; i++) {
                    int index = indices[i];
                    sum[index] += (double) sampleCount * values[i];
                    seen[index >>> 6] |= 1L << index;
                }
            }
            agents.add(agentId);
            totalSamples += sampleCount;
        }
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    public synchronized Set<String> agents() {
        return Set.copyOf(agents);
    }

    /** {@code n}: the sample count of all agents folded so far. */
    public synchronized long totalSamples() {
        return totalSamples;
    }

    /** The weighted average of one tensor, dense; all zero before any fold. */
    public synchronized float[] average(String tensor) {
        double[] sum = sum(tensor);
        float[] out = new float[sum.length];
        if (totalSamples == 0) {
            return out;
        }
        for (int i = 0; i < sum.length; i++) {
            out[i] = (float) (sum[i] / totalSamples);
        }
        return out;
    }

    /** The weighted average at the coordinates at least one agent sent (others are 0 by definition). */
    public synchronized SparseTensor averageSparse(String tensor) {
        double[] sum = sum(tensor);
        BitMask seen = support.get(tensor);
        int n = Math.toIntExact(seen.cardinality());
        int[] indices = new int[n];
        float[] values = new float[n];
        long[] words = seen.words();
        int j = 0;
        for (int w = 0; w < words.length; w++) {
            long bits = words[w];
            while (bits != 0) {
                int index = (w << 6) + Long.numberOfTrailingZeros(bits);
                indices[j] = index;
                values[j++] = (float) (sum[index] / totalSamples);
                bits &= bits - 1;
            }
        }
        return new SparseTensor(sum.length, indices, values);
    }

    /** Coordinates sent by at least one agent (a copy). */
    public synchronized BitMask support(String tensor) {
        sum(tensor);
        return support.get(tensor).copy();
    }

    private double[] sum(String tensor) {
        double[] sum = sums.get(tensor);
        if (sum == null) {
            throw new IllegalArgumentException("unknown tensor '" + tensor + "'");
        }
        return sum;
    }
}
