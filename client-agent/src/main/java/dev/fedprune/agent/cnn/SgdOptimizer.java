package dev.fedprune.agent.cnn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The optimiser of a {@link MaskedCnn}, PyTorch's SGD without dampening or Nesterov:
 * {@code g ← ∇ + weightDecay·w; buf ← momentum·buf + g; w ← w − lr·buf}. A sparse layer steps on its
 * active weights only (gradient, decay and momentum masked), so its inactive weights stay exactly +0.
 * Momentum buffers are created at a parameter's first step and owned by the model's manager.
 */
final class SgdOptimizer {
    private final NDManager manager;
    private float momentum;
    private float weightDecay;
    /** Momentum buffers: by sparse layer name, and by dense tensor. */
    private final Map<String, NDArray> layerMomentum = new LinkedHashMap<>();
    private final Map<NDArray, NDArray> denseMomentum = new IdentityHashMap<>();

    SgdOptimizer(NDManager manager) {
        this.manager = manager;
    }

    /** Sets momentum and weight decay and clears the momentum buffers (a fresh optimiser). */
    void reset(double momentum, double weightDecay) {
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        }
        this.momentum = (float) momentum;
        this.weightDecay = (float) weightDecay;
        layerMomentum.values().forEach(NDArray::close);
        layerMomentum.clear();
        denseMomentum.values().forEach(NDArray::close);
        denseMomentum.clear();
    }

    /** Masks the momentum buffer of a sparse layer: a pruned weight carries no momentum into its next life. */
    void maskMomentum(String layer, NDArray mask) {
        NDArray buffer = layerMomentum.get(layer);
        if (buffer != null) {
            SparseWeights.applyMask(buffer, mask);
        }
    }

    /**
     * The step of one sparse layer from its gradient {@code g} (any extra loss terms already added):
     * adds the weight decay, drops the gradients of inactive weights, folds in the momentum, steps,
     * holds inactive weights at +0 and zeroes the gradient.
     */
    void stepSparse(String layer, NDArray w, NDArray mask, NDArray g, float learningRate) {
        if (weightDecay != 0) {
            g.addi(w.mul(weightDecay)); // w is +0 where inactive: decay touches active weights only
        }
        g.muli(mask); // drop the gradients of inactive weights
        NDArray direction = momentum == 0 ? g : momentumBuffer(layerMomentum, layer, g);
        w.subi(direction.mul(learningRate));
        SparseWeights.applyMask(w, mask); // exactly +0 where inactive, whatever the optimiser did
        g.subi(g);
    }

    /** The step of one dense parameter, zeroing its gradient. */
    void stepDense(NDArray denseParameter, float learningRate) {
        NDArray g = denseParameter.getGradient();
        if (weightDecay != 0) {
            g.addi(denseParameter.mul(weightDecay));
        }
        NDArray direction = momentum == 0 ? g : momentumBuffer(denseMomentum, denseParameter, g);
        denseParameter.subi(direction.mul(learningRate));
        g.subi(g);
    }

    /** {@code buf ← momentum·buf + g} (PyTorch starts {@code buf} at {@code g}, the same as from 0); returns buf. */
    private <K> NDArray momentumBuffer(Map<K, NDArray> buffers, K key, NDArray g) {
        NDArray buffer = buffers.get(key);
        if (buffer == null) {
            buffer = manager.zeros(g.getShape());
            NDScope.unregister(buffer); // owned by the model's manager, not by the step's scope
            buffers.put(key, buffer);
        }
        return buffer.muli(momentum).addi(g);
    }
}
