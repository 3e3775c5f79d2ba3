package dev.fedprune.aggregation.sparsetrain.fedmef;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.Arrays;

/**
 * NSConv's mask-aware scaled weight standardisation (algorithms.md 4.5), the BatchNorm-free
 * normalisation that keeps FedMef's activations centred. [U]: this is the document's recommended form,
 * not a formula confirmed from the paper; the normalisation ({@code √N_o} against {@code N_o}) and the
 * gain initialisation are to be checked before claiming parity.
 *
 * <p>Per output channel {@code o}, over its active positions {@code A_o} ({@code N_o = |A_o|}):
 * {@code μ_o} is the mean, {@code s_o} the population standard deviation, and
 * {@code Ŵ_o = g_o·(W_o − μ_o)/(s_o·√N_o + ε)} on {@code A_o}, 0 elsewhere. The active entries of
 * {@code Ŵ_o} then have mean 0 and L2 norm {@code g_o·s_o√N_o/(s_o√N_o + ε)}, which is {@code g_o} at
 * {@code ε = 0}. A channel with no active weight, or whose active weights are all equal (one active
 * weight in particular), has nothing to standardise: {@code W_o − μ_o = 0}, so its output is exactly 0
 * without dividing, also at {@code ε = 0}, and never NaN.
 *
 * <p>Weights are row-major with the output channel first: {@code [out, in, kh, kw]} for a convolution,
 * {@code [out, in]} for a linear layer. The mask is a keep-mask (set bit = active), as in the rest of
 * {@code sparsetrain}. Statistics are accumulated in double.
 */
public final class WeightStandardisation {

    /**
     * The gain's initial value for ReLU, {@code √(2/(1 − 1/π))}: the inverse standard deviation of
     * {@code ReLU(z)} for {@code z ~ N(0, 1)}, so that a layer's output keeps unit variance.
     */
    public static final double RELU_GAIN = Math.sqrt(2 / (1 - 1 / Math.PI));

    /**
     * The standardised weights and the per-channel statistics they were made with.
     *
     * @param weights     {@code Ŵ}, same layout as the input
     * @param mean        {@code μ_o} per output channel (0 for a channel with no active weight)
     * @param std         {@code s_o} per output channel (population, 0 for fewer than two distinct values)
     * @param activeCount {@code N_o} per output channel
     */
    public record Standardised(float[] weights, double[] mean, double[] std, int[] activeCount) {
    }

    private WeightStandardisation() {
    }

    /** Gains of {@code channels} output channels, all {@link #RELU_GAIN}. */
    public static float[] reluGains(int channels) {
        if (channels < 1) {
            throw new IllegalArgumentException("channels must be >= 1, got " + channels);
        }
        float[] gains = new float[channels];
        Arrays.fill(gains, (float) RELU_GAIN);
        return gains;
    }

    /**
     * Standardises {@code weights} of a layer of the given shape under its keep-mask.
     *
     * @param gains   {@code g_o}, one per output channel, finite
     * @param epsilon {@code ε}, finite and {@code >= 0}
     * @throws IllegalArgumentException if the shape is not {@code [out, in]} or {@code [out, in, kh, kw]},
     *                                  the weights, mask or gains do not match it, a weight or gain is
     *                                  not finite, or {@code epsilon} is negative or not finite
     */
    public static Standardised standardise(float[] weights, LayerShape shape, BitMask keep, float[] gains, double epsilon) {
        long[] dims = shape.shape();
        if (dims.length != 2 && dims.length != 4) {
            throw new IllegalArgumentException("shape " + shape + " must be [out, in] or [out, in, kh, kw]");
        }
        int n = shape.weightCount();
        if (weights.length != n) {
            throw new IllegalArgumentException("weights has " + weights.length + " values, shape " + shape + " needs " + n);
        }
        if (keep.length() != n) {
            throw new IllegalArgumentException("keep-mask of " + keep.length() + " bits for shape " + shape + " of " + n + " weights");
        }
        int out = (int) dims[0];
        if (gains.length != out) {
            throw new IllegalArgumentException("gains has " + gains.length + " values, shape " + shape + " has " + out + " output channels");
        }
        if (!(epsilon >= 0) || Double.isInfinite(epsilon)) {
            throw new IllegalArgumentException("epsilon must be finite and >= 0, got " + epsilon);
        }
        int fanIn = n / out;
        long[] words = keep.words();
        float[] result = new float[n];
        double[] mean = new double[out];
        double[] std = new double[out];
        int[] activeCount = new int[out];
        for (int o = 0; o < out; o++) {
            if (!Float.isFinite(gains[o])) {
                throw new IllegalArgumentException("gains[" + o + "] is not finite: " + gains[o]);
            }
            int from = o * fanIn;
            int to = from + fanIn;
            int count = 0;
            double sum = 0;
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = from; i < to; i++) {
                if ((words[i >>> 6] & (1L << i)) != 0) {
                    float w = weights[i];
                    if (!Float.isFinite(w)) {
                        throw new IllegalArgumentException("weights[" + i + "] is not finite: " + w);
                    }
                    count++;
                    sum += w;
                    min = Math.min(min, w);
                    max = Math.max(max, w);
                }
            }
            activeCount[o] = count;
            if (count == 0) {
                continue;
            }
            if (min == max) {
                // No spread: W − μ is exactly 0 on A_o (rounding of μ must not turn into noise).
                mean[o] = min;
                continue;
            }
            double mu = sum / count;
            double squares = 0;
            for (int i = from; i < to; i++) {
                if ((words[i >>> 6] & (1L << i)) != 0) {
                    double d = weights[i] - mu;
                    squares += d * d;
                }
            }
            double s = Math.sqrt(squares / count);
            mean[o] = mu;
            std[o] = s;
            double scale = gains[o] / (s * Math.sqrt(count) + epsilon);
            for (int i = from; i < to; i++) {
                if ((words[i >>> 6] & (1L << i)) != 0) {
                    result[i] = (float) ((weights[i] - mu) * scale);
                }
            }
        }
        return new Standardised(result, mean, std, activeCount);
    }
}
