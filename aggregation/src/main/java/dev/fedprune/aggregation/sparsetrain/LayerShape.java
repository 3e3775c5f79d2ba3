package dev.fedprune.aggregation.sparsetrain;

import java.util.Arrays;

/**
 * One sparse (prunable) layer of a CNN as the allocation rules see it: its name and weight shape,
 * e.g. {@code (out, in, kh, kw)} for a convolution or {@code (out, in)} for a linear layer.
 */
public record LayerShape(String name, long[] shape) {

    public LayerShape {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("layer name must not be empty");
        }
        if (shape.length == 0) {
            throw new IllegalArgumentException("layer '" + name + "': shape must have at least one dimension");
        }
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException("layer '" + name + "': shape " + Arrays.toString(shape) + " has a dimension below 1");
            }
        }
        shape = shape.clone();
        if (weightCountOf(shape) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("layer '" + name + "': " + weightCountOf(shape) + " weights exceed one Java array");
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** {@code N_ℓ}: the number of weights. */
    public int weightCount() {
        return (int) weightCountOf(shape);
    }

    /** ERK raw weight {@code (Σ_i n_i) / (Π_i n_i)} over all dimensions, kernel included. */
    double erkRawWeight() {
        double sum = 0;
        for (long d : shape) {
            sum += d;
        }
        return sum / weightCount();
    }

    /**
     * ER raw weight {@code (n_out + n_in) / (n_out · n_in)}: the kernel dimensions are ignored, which is
     * what distinguishes ER from ERK for convolutions. A one-dimensional layer counts as {@code (n, 1)}.
     */
    double erRawWeight() {
        double out = shape[0];
        double in = shape.length > 1 ? shape[1] : 1;
        return (out + in) / (out * in);
    }

    private static long weightCountOf(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerShape l && l.name.equals(name) && Arrays.equals(l.shape, shape);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
