package dev.fedprune.aggregation.sparsetrain;

import java.util.Arrays;

/** Per-channel running statistics of one BatchNorm layer: mean and (biased) variance. */
public record BnStatistics(float[] mean, float[] variance) {

    public BnStatistics {
        if (mean.length != variance.length) {
            throw new IllegalArgumentException(mean.length + " means but " + variance.length + " variances");
        }
        mean = mean.clone();
        variance = variance.clone();
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] variance() {
        return variance.clone();
    }

    public int channels() {
        return mean.length;
    }

    /** The first problem (NaN or infinite value, negative variance), or null. */
    public String problem() {
        for (int c = 0; c < mean.length; c++) {
            if (!Float.isFinite(mean[c])) {
                return "mean of channel " + c + " is not finite: " + mean[c];
            }
            if (!Float.isFinite(variance[c])) {
                return "variance of channel " + c + " is not finite: " + variance[c];
            }
            if (variance[c] < 0) {
                return "variance of channel " + c + " is negative: " + variance[c];
            }
        }
        return null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BnStatistics s && Arrays.equals(s.mean, mean) && Arrays.equals(s.variance, variance);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(mean) * 31 + Arrays.hashCode(variance);
    }

    @Override
    public String toString() {
        return "BnStatistics[" + mean.length + " channels]";
    }
}
