package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * ABNS step A4 for one candidate (algorithms.md 3.3, O-17): folds the agents' recalibrated BatchNorm
 * statistics as they arrive, weighted by sample count, into sums of {@code n_k μ}, {@code n_k σ²} and
 * {@code n_k μ²} per channel, so memory does not grow with the number of agents. A fold is
 * all-or-nothing and thread-safe.
 */
public final class BnStatisticsAccumulator {
    private final Map<String, Integer> channels;
    private final BnPooling pooling;
    private final Map<String, double[][]> sums = new LinkedHashMap<>();
    private final Set<String> agents = new LinkedHashSet<>();
    private long totalSamples;

    /** @param channels the channel count of every BatchNorm layer, by layer name */
    public BnStatisticsAccumulator(Map<String, Integer> channels, BnPooling pooling) {
        channels.forEach((layer, c) -> {
            if (c < 1) {
                throw new IllegalArgumentException("BatchNorm layer '" + layer + "' must have at least 1 channel, got " + c);
            }
            sums.put(layer, new double[3][c]);
        });
        this.channels = Map.copyOf(channels);
        this.pooling = pooling;
    }

    /** Folds one agent's statistics of every BatchNorm layer. */
    public void fold(String agentId, long sampleCount, Map<String, BnStatistics> statistics) {
        if (sampleCount < 1) {
            throw new InvalidContributionException("sampleCount", "agent " + agentId + " must report at least 1 sample, got " + sampleCount);
        }
        for (String layer : statistics.keySet()) {
            if (!channels.containsKey(layer)) {
                throw new InvalidContributionException("bnStatistics", "unknown BatchNorm layer '" + layer + "'");
            }
        }
        for (Map.Entry<String, Integer> e : channels.entrySet()) {
            BnStatistics s = statistics.get(e.getKey());
            String field = "bnStatistics[" + e.getKey() + "]";
            if (s == null) {
                throw new InvalidContributionException("bnStatistics", "BatchNorm layer '" + e.getKey() + "' is missing");
            }
            if (s.channels() != e.getValue()) {
                throw new InvalidContributionException(field, s.channels() + " channels, expected " + e.getValue());
            }
            String problem = s.problem();
            if (problem != null) {
                throw new InvalidContributionException(field, problem);
            }
        }
        synchronized (this) {
            if (agents.contains(agentId)) {
                throw new InvalidContributionException("agent", "agent " + agentId + " already sent BatchNorm statistics for this candidate");
            }
            statistics.forEach((layer, s) -> {
                double[][] sum = sums.get(layer);
                float[] mean = s.mean();
                float[] variance = s.variance();
                for (int c = 0; c < mean.length; c++) {
                    sum[0][c] += (double) sampleCount * mean[c];
                    sum[1][c] += (double) sampleCount * variance[c];
                    sum[2][c] += (double) sampleCount * mean[c] * mean[c];
                }
            });
            agents.add(agentId);
            totalSamples += sampleCount;
        }
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    /** The aggregated statistics of every layer; requires at least one fold. */
    public synchronized Map<String, BnStatistics> aggregate() {
        if (totalSamples == 0) {
            throw new IllegalStateException("no agent has sent BatchNorm statistics");
        }
        Map<String, BnStatistics> out = new LinkedHashMap<>();
        sums.forEach((layer, sum) -> {
            int c = sum[0].length;
            float[] mean = new float[c];
            float[] variance = new float[c];
            for (int i = 0; i < c; i++) {
                double mu = sum[0][i] / totalSamples;
                double var = sum[1][i] / totalSamples;
                if (pooling == BnPooling.EXACT) {
                    // Σ w (μ_k − μ)² = Σ w μ_k² − μ²; never negative, rounding aside.
                    var += Math.max(0, sum[2][i] / totalSamples - mu * mu);
                }
                mean[i] = (float) mu;
                variance[i] = (float) var;
            }
            out.put(layer, new BnStatistics(mean, variance));
        });
        return out;
    }

    @Override
    public String toString() {
        return "BnStatisticsAccumulator" + Arrays.toString(sums.keySet().toArray()) + " " + pooling;
    }
}
