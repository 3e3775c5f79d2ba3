package dev.fedprune.agent.cnn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The sparse layers of a {@link MaskedCnn} and their keep-masks: each weight tensor, its mask as a 0/1
 * float tensor of the same shape and as a {@link BitMask}, kept in step so that inactive weights are +0.
 */
final class SparseWeights {
    private final NDManager manager;
    private final List<LayerShape> layers = new ArrayList<>();
    private final Map<String, NDArray> weights = new LinkedHashMap<>();
    private final Map<String, NDArray> masks = new LinkedHashMap<>();
    private final Map<String, BitMask> keepMasks = new LinkedHashMap<>();

    SparseWeights(NDManager manager) {
        this.manager = manager;
    }

    /** Declares a sparse weight, Kaiming-normal with {@code std = sqrt(gain / fanIn)}, fully active. */
    void add(String name, long[] shape, double gain, SplittableRandom random) {
        LayerShape layer = new LayerShape(name, shape);
        long fanIn = layer.weightCount() / shape[0];
        double std = Math.sqrt(gain / fanIn);
        float[] init = new float[layer.weightCount()];
        for (int i = 0; i < init.length; i++) {
            init[i] = (float) (random.nextGaussian() * std);
        }
        NDArray w = manager.create(init, new Shape(shape));
        w.setRequiresGradient(true);
        BitMask keep = new BitMask(init.length);
        for (int i = 0; i < init.length; i++) {
            keep.set(i);
        }
        layers.add(layer);
        weights.put(name, w);
        masks.put(name, manager.ones(new Shape(shape)));
        keepMasks.put(name, keep);
    }

    /** The layers in declaration (input-to-output) order. */
    List<LayerShape> layers() {
        return List.copyOf(layers);
    }

    /** The layer names in declaration order (a live view). */
    Set<String> names() {
        return weights.keySet();
    }

    /** The weight tensor of a layer (requires a gradient; inactive entries are +0). */
    NDArray weight(String layer) {
        NDArray w = weights.get(layer);
        if (w == null) {
            throw new IllegalArgumentException("unknown sparse layer '" + layer + "', expected one of " + weights.keySet());
        }
        return w;
    }

    /** The keep-mask of a layer as a 0/1 float tensor of the layer's shape. */
    NDArray mask(String layer) {
        weight(layer);
        return masks.get(layer);
    }

    /** The keep-mask of a layer itself (not a copy); the layer must exist. */
    BitMask keepMask(String layer) {
        weight(layer);
        return keepMasks.get(layer);
    }

    /** {@code weight ⊙ keepMask} of a layer, a new tensor. */
    NDArray masked(String layer) {
        return weights.get(layer).mul(masks.get(layer));
    }

    /** Installs a keep-mask for one layer and zeroes its inactive weights; returns the new mask tensor. */
    NDArray setKeepMask(String layer, BitMask keep) {
        NDArray w = weight(layer);
        if (keep.length() != w.size()) {
            throw new IllegalArgumentException("keep-mask for '" + layer + "' has " + keep.length() + " bits, the layer " + w.size() + " weights");
        }
        float[] m = new float[(int) w.size()];
        for (int i = 0; i < m.length; i++) {
            m[i] = keep.get(i) ? 1f : 0f;
        }
        masks.get(layer).set(m);
        keepMasks.put(layer, keep.copy());
        applyMask(w, masks.get(layer));
        return masks.get(layer);
    }

    /** Replaces the weights of one layer; the current mask is applied to them. */
    void setWeights(String layer, float[] values) {
        NDArray w = weight(layer);
        if (values.length != w.size()) {
            throw new IllegalArgumentException("weights for '" + layer + "': " + values.length + " values, the layer has " + w.size());
        }
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException("weights for '" + layer + "': value at index " + i + " is not finite: " + values[i]);
            }
        }
        w.set(values);
        applyMask(w, masks.get(layer));
    }

    /** {@code w ← w ⊙ mask + 0}: adding +0 turns the -0.0 of a negative inactive weight into +0.0. */
    static void applyMask(NDArray w, NDArray mask) {
        w.muli(mask).addi(0f);
    }
}
