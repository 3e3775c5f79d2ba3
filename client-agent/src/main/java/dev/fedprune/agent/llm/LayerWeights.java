package dev.fedprune.agent.llm;

import java.util.EnumMap;
import java.util.Map;

/**
 * One decoder layer's parameters on the Java heap, row-major {@code [out, in]} floats. Pruners edit the
 * projection weights in place; {@link DeviceLayer} copies them to the engine for the forward pass.
 */
public final class LayerWeights {
    private final int layer;
    private final float[] inputNorm;
    private final float[] postAttentionNorm;
    private final Map<Projection, float[]> weights;
    private final Map<Projection, float[]> biases;

    public LayerWeights(int layer, float[] inputNorm, float[] postAttentionNorm, Map<Projection, float[]> weights,
                        Map<Projection, float[]> biases) {
        this.layer = layer;
        this.inputNorm = inputNorm;
        this.postAttentionNorm = postAttentionNorm;
        this.weights = new EnumMap<>(weights);
        this.biases = biases.isEmpty() ? new EnumMap<>(Projection.class) : new EnumMap<>(biases);
    }

    public int layer() {
        return layer;
    }

    public float[] inputNorm() {
        return inputNorm;
    }

    public float[] postAttentionNorm() {
        return postAttentionNorm;
    }

    /** The live weight array (null in a shell that streams weights); writes go through. */
    public float[] weight(Projection p) {
        return weights.get(p);
    }

    public void setWeight(Projection p, float[] values) {
        if (weights.get(p) != null && values.length != weights.get(p).length) {
            throw new IllegalArgumentException(p + ": " + values.length + " values for " + weights.get(p).length);
        }
        weights.put(p, values);
    }

    /** The bias, or null when the architecture has none. */
    public float[] bias(Projection p) {
        return biases.get(p);
    }

    /** Zeroes every weight whose prune-mask bit is set. */
    public void applyMask(Projection p, dev.fedprune.aggregation.format.BitMask mask) {
        applyMask(weights.get(p), mask, p.weightName(layer));
    }

    /** Zeroes every weight of {@code w} whose prune-mask bit is set. */
    public static void applyMask(float[] w, dev.fedprune.aggregation.format.BitMask mask, String name) {
        if (mask.length() != w.length) {
            throw new IllegalArgumentException("mask of " + mask.length() + " bits for " + name + " of " + w.length + " weights");
        }
        long[] words = mask.words();
        for (int wi = 0; wi < words.length; wi++) {
            long bits = words[wi];
            while (bits != 0) {
                int b = Long.numberOfTrailingZeros(bits);
                w[(wi << 6) + b] = 0f;
                bits &= bits - 1;
            }
        }
    }
}
