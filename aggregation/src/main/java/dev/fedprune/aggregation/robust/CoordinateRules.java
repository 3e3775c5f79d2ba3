package dev.fedprune.aggregation.robust;

import java.util.Arrays;

/**
 * The value of one coordinate from the agents' values and weights. Values are ordered by value, ties by
 * agent order, so every rule is deterministic.
 */
final class CoordinateRules {
    private CoordinateRules() {
    }

    /**
     * @param values  one value per agent, in fold order
     * @param weights one positive weight per agent
     */
    static double combine(RobustFedAvg.Rule rule, float[] values, long[] weights, double trimFraction) {
        return switch (rule) {
            case MEAN -> mean(values, weights, null, 0, values.length);
            case TRIMMED_MEAN -> {
                int t = trimmed(values.length, trimFraction);
                yield mean(values, weights, order(values), t, values.length - t);
            }
            case MEDIAN -> median(values, weights, order(values));
        };
    }

    /** Values dropped at each end of a coordinate by the trimmed mean. */
    static int trimmed(int agents, double trimFraction) {
        return (int) Math.floor(trimFraction * agents);
    }

    /** Weighted mean over the sorted positions [from, to); the plain mean sums in fold order, as FedAvg does. */
    private static double mean(float[] values, long[] weights, int[] sorted, int from, int to) {
        double sum = 0;
        long total = 0;
        if (sorted == null) {
            for (int k = 0; k < values.length; k++) {
                sum += (double) weights[k] * values[k];
                total += weights[k];
            }
        } else {
            for (int i = from; i < to; i++) {
                sum += (double) weights[sorted[i]] * values[sorted[i]];
                total += weights[sorted[i]];
            }
        }
        return sum / total;
    }

    /**
     * The weighted median: the smallest value whose cumulative weight reaches half the total; when it
     * reaches exactly half, the mean of that value and the next (the ordinary median for equal weights).
     */
    private static double median(float[] values, long[] weights, int[] sorted) {
        long total = 0;
        for (long w : weights) {
            total += w;
        }
        long cumulative = 0;
        for (int i = 0; i < sorted.length; i++) {
            cumulative += weights[sorted[i]];
            if (2 * cumulative == total) {
                return ((double) values[sorted[i]] + values[sorted[i + 1]]) / 2;
            }
            if (2 * cumulative > total) {
                return values[sorted[i]];
            }
        }
        throw new IllegalStateException("weights must be positive");
    }

    /** Agent positions by value, ties by position: one primitive sort of (order-preserving bits, position) keys. */
    private static int[] order(float[] values) {
        long[] keys = new long[values.length];
        for (int k = 0; k < values.length; k++) {
            int bits = Float.floatToIntBits(values[k]);
            int sortable = bits < 0 ? bits ^ 0x7fffffff : bits;
            keys[k] = ((long) sortable << 32) | k;
        }
        Arrays.sort(keys);
        int[] out = new int[keys.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) keys[i];
        }
        return out;
    }
}
