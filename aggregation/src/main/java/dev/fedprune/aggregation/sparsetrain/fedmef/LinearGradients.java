package dev.fedprune.aggregation.sparsetrain.fedmef;

/**
 * Reference gradients of a linear layer {@code y = x·Wᵀ} for checking SAP (O-15), row-major, in double
 * accumulation: with upstream gradient {@code δ} of shape {@code [batch, out]}, {@code ∂L/∂W = δᵀ·x̃}
 * uses the rebuilt pruned input {@code x̃} of shape {@code [batch, in]}, while {@code ∂L/∂x = δ·W}
 * needs only {@code W} of shape {@code [out, in]} and is exact under SAP. Not a training kernel.
 */
public final class LinearGradients {

    private LinearGradients() {
    }

    /** {@code ∂L/∂W = δᵀ·x̃}, shape {@code [out, in]}. */
    public static float[] weightGradient(float[] delta, float[] input, int batch, int out, int in) {
        checkShape("delta", delta, batch, out);
        checkShape("input", input, batch, in);
        float[] grad = new float[out * in];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int b = 0; b < batch; b++) {
                    sum += (double) delta[b * out + o] * input[b * in + i];
                }
                grad[o * in + i] = (float) sum;
            }
        }
        return grad;
    }

    /** {@code ∂L/∂x = δ·W}, shape {@code [batch, in]}. */
    public static float[] inputGradient(float[] delta, float[] weights, int batch, int out, int in) {
        checkShape("delta", delta, batch, out);
        checkShape("weights", weights, out, in);
        float[] grad = new float[batch * in];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int o = 0; o < out; o++) {
                    sum += (double) delta[b * out + o] * weights[o * in + i];
                }
                grad[b * in + i] = (float) sum;
            }
        }
        return grad;
    }

    private static void checkShape(String name, float[] values, int rows, int cols) {
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException(name + " shape [" + rows + ", " + cols + "] must have dimensions >= 1");
        }
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(name + " has " + values.length + " values, shape [" + rows + ", " + cols + "] needs "
                    + (long) rows * cols);
        }
    }
}
