package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.GradientCollector;
import dev.fedprune.agent.engine.TorchSettings;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.TopKGradientBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A CNN with BatchNorm on DJL (PyTorch engine) trained with keep-masks, for federated sparse training:
 * the forward pass uses {@code weight ⊙ keepMask} for every sparse layer (convolutions and classifier
 * weights), the gradients of inactive weights are dropped before the SGD step and inactive weights are
 * held at exactly +0. Keep-masks: a set bit is an active weight. Subclasses declare their parameters in
 * the constructor and write the forward pass with {@link #conv}, {@link #batchNorm} and {@link #linear}.
 * Weights are initialised in Java from the seed (Kaiming normal), so the same seed and the same batches
 * give the same model bit for bit on the same machine and thread count. Owns the NDManager of its
 * parameters; not thread-safe, and DJL's PyTorch engine allows one gradient collection at a time per JVM.
 */
public abstract class MaskedCnn implements AutoCloseable {
    static {
        // DJL must never try the network: the PyTorch natives come from the pytorch-native-cpu jar.
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
    }

    /** BatchNorm momentum in DJL's convention (fraction of the old running value kept): PyTorch's 0.1. */
    public static final float BN_MOMENTUM = 0.9f;
    public static final float BN_EPSILON = 1e-5f;

    private final int inputChannels;
    private final int side;
    private final int classes;
    protected final NDManager manager;
    private final SplittableRandom random;
    private final SparseWeights sparse;
    private final DenseTensors dense;
    private final ExtrusionPenalty extrusion;
    private final SgdOptimizer optimizer;

    protected MaskedCnn(int inputChannels, int side, int classes, long seed, Device device) {
        if (inputChannels < 1 || side < 1 || classes < 2) {
            throw new IllegalArgumentException("need inputChannels >= 1, side >= 1, classes >= 2, got " + inputChannels + ", " + side + ", " + classes);
        }
        TorchSettings.apply(); // before the first operator: libtorch's oneDNN convolutions are wrong on some shapes
        this.inputChannels = inputChannels;
        this.side = side;
        this.classes = classes;
        this.manager = NDManager.newBaseManager(device);
        this.random = new SplittableRandom(seed);
        this.sparse = new SparseWeights(manager);
        this.dense = new DenseTensors(manager);
        this.extrusion = new ExtrusionPenalty(manager, sparse);
        this.optimizer = new SgdOptimizer(manager);
    }

    /** Declares a sparse weight, Kaiming-normal with {@code std = sqrt(gain / fanIn)}, fully active. */
    protected final void addSparse(String name, long[] shape, double gain) {
        sparse.add(name, shape, gain, random);
    }

    /** Declares a BatchNorm layer (gamma 1, beta 0, running mean 0, running variance 1). */
    protected final void addBatchNorm(String name, int channels) {
        dense.addBatchNorm(name, channels);
    }

    /** Declares a dense bias, zero-initialised. */
    protected final NDArray addBias(String name, int size) {
        return addDense(name, size, 0f);
    }

    /** Declares a dense trainable tensor (a bias, a gain) of {@code size} entries, all {@code initial}. */
    protected final NDArray addDense(String name, int size, float initial) {
        return dense.addDense(name, size, initial);
    }

    /** The forward pass to logits; {@code bnMomentum} and {@code effective} are to be passed to the helpers. */
    protected abstract NDArray forward(NDArray x, boolean training, float bnMomentum, Map<String, NDArray> effective);

    /** A bias-free convolution with the masked weight {@code name}. */
    protected final NDArray conv(NDArray h, String name, int stride, int padding, Map<String, NDArray> effective) {
        return Conv2d.conv2d(h, masked(name, effective), null, new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1), 1)
                .singletonOrThrow();
    }

    protected final NDArray batchNorm(NDArray h, String name, boolean training, float bnMomentum) {
        NDArray[] bn = dense.batchNorm(name);
        return BatchNorm.batchNorm(h, bn[2], bn[3], bn[0], bn[1], 1, bnMomentum, BN_EPSILON, training).singletonOrThrow();
    }

    protected final NDArray linear(NDArray h, String name, NDArray bias, Map<String, NDArray> effective) {
        return Linear.linear(h, masked(name, effective), bias).singletonOrThrow();
    }

    /** {@code weight ⊙ keepMask} of a sparse layer, or its entry of {@code effective} when given. */
    protected final NDArray masked(String name, Map<String, NDArray> effective) {
        return effective != null ? effective.get(name) : sparse.masked(name);
    }

    public int classes() {
        return classes;
    }

    /** The sparse (maskable) layers in input-to-output order, for density allocation and prune-and-grow. */
    public List<LayerShape> sparseLayers() {
        return sparse.layers();
    }

    /** Channel count of every BatchNorm layer, by name. */
    public Map<String, Integer> batchNormChannels() {
        return dense.batchNormChannels();
    }

    /** Number of dense parameters (BatchNorm affine parameters and biases), for ERK's dense deduction. */
    public long denseParameterCount() {
        return dense.trainableCount();
    }

    /**
     * Every tensor that is not a sparse layer, by name, flat: BatchNorm {@code <bn>.gamma}, {@code .beta},
     * {@code .runningMean}, {@code .runningVar} and biases. FedAvg averages these densely (algorithms.md 0.4).
     */
    public Map<String, float[]> denseState() {
        return dense.state();
    }

    /** Replaces the tensors named in {@code state} (a subset of {@link #denseState()}'s names). */
    public void setDenseState(Map<String, float[]> state) {
        gradientsOffOnThisThread();
        dense.setState(state);
    }

    /** Installs a keep-mask for one sparse layer and zeroes its inactive weights. */
    public void setKeepMask(String layer, BitMask keep) {
        gradientsOffOnThisThread();
        optimizer.maskMomentum(layer, sparse.setKeepMask(layer, keep));
    }

    /**
     * Sets the optimiser of the next training steps, PyTorch's SGD without dampening or Nesterov:
     * {@code g ← ∇ + weightDecay·w; buf ← momentum·buf + g; w ← w − lr·buf}, on active weights only
     * (their gradient, decay and momentum are masked, so inactive weights stay exactly +0) and on every
     * dense parameter. Clears the momentum buffers: each task starts a fresh optimiser, as the agents of
     * the reference implementations build a new one per round. {@code (0, 0)} is plain SGD.
     */
    public void setOptimizer(double momentum, double weightDecay) {
        gradientsOffOnThisThread();
        optimizer.reset(momentum, weightDecay);
    }

    /**
     * Turns on FedMef's budget-aware extrusion for the next training steps: {@code λ·‖Θ_low‖₂²} over the
     * marked weights joins the loss, so each step adds {@code 2λθ} to their gradients (and nothing to
     * any other weight's). Marked weights must be active; an empty map turns extrusion off.
     */
    public void setExtrusion(Map<String, int[]> markedIndices, float lambda) {
        gradientsOffOnThisThread();
        extrusion.set(markedIndices, lambda);
    }

    /** {@code ‖Θ_low‖₂} of the marked weights as they are now (0 when extrusion is off). */
    public double markedNorm() {
        gradientsOffOnThisThread();
        return extrusion.markedNorm();
    }

    public BitMask keepMask(String layer) {
        return sparse.keepMask(layer).copy();
    }

    /** The weights of one sparse layer, flat row-major (inactive ones are 0). */
    public float[] weights(String layer) {
        return weight(layer).toFloatArray();
    }

    /** Replaces the weights of one sparse layer; the current mask is applied to them. */
    public void setWeights(String layer, float[] values) {
        gradientsOffOnThisThread();
        sparse.setWeights(layer, values);
    }

    /** The running statistics of every BatchNorm layer. */
    public Map<String, BnStatistics> batchNormStatistics() {
        return dense.batchNormStatistics();
    }

    /** ABNS step A6: installs aggregated BatchNorm statistics for every BatchNorm layer. */
    public void setBatchNormStatistics(Map<String, BnStatistics> statistics) {
        gradientsOffOnThisThread();
        dense.setBatchNormStatistics(statistics);
    }

    /**
     * One SGD step (with the momentum and weight decay of {@link #setOptimizer}) on a batch of
     * {@code labels.length} images, {@code pixels} laid out {@code N × C × side × side}; returns the mean
     * cross-entropy before the step.
     */
    public float trainStep(float[] pixels, int[] labels, float learningRate) {
        gradientsOffOnThisThread();
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            NDArray x = input(step, pixels, labels);
            NDArray oneHot = step.create(labels).oneHot(classes);
            float loss;
            try (GradientCollector collector = newCollector()) {
                NDArray l = crossEntropy(forward(x, true, BN_MOMENTUM, null), oneHot);
                collector.backward(l);
                loss = l.getFloat();
            }
            for (String layer : sparse.names()) {
                sgdStep(layer, learningRate);
            }
            for (NDArray p : dense.trainable()) {
                sgdStep(p, learningRate);
            }
            return loss;
        }
    }

    /**
     * The optimiser step of one sparse layer from the gradient accumulated in its weight: adds the
     * extrusion gradient {@code 2λθ} of its marked weights and the weight decay, drops the gradients of
     * inactive weights, folds in the momentum, steps, holds inactive weights at +0 and zeroes the
     * gradient. Every training path goes through here.
     */
    protected final void sgdStep(String layer, float learningRate) {
        NDArray w = weight(layer);
        NDArray g = w.getGradient();
        extrusion.addGradient(layer, w, g);
        optimizer.stepSparse(layer, w, sparse.mask(layer), g, learningRate);
    }

    /** The optimiser step of one dense parameter (declared with {@link #addDense}), zeroing its gradient. */
    protected final void sgdStep(NDArray denseParameter, float learningRate) {
        optimizer.stepDense(denseParameter, learningRate);
    }

    /** Mean cross-entropy and accuracy of a batch in inference mode (running BatchNorm statistics). */
    public float[] evaluate(float[] pixels, int[] labels) {
        gradientsOffOnThisThread();
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            NDArray x = input(step, pixels, labels);
            NDArray target = step.create(labels);
            NDArray logits = forward(x, false, BN_MOMENTUM, null);
            float loss = crossEntropy(logits, target.oneHot(classes)).getFloat();
            long correct = logits.argMax(1).toType(DataType.INT32, false).eq(target).sum().getLong();
            return new float[] {loss, (float) correct / labels.length};
        }
    }

    /**
     * ABNS step A3: resets the BatchNorm running statistics and re-estimates them over {@code batches}
     * in training mode without gradients, as the exact cumulative average over batches (batch {@code i}
     * enters with weight {@code 1/i}); the variance is PyTorch's unbiased batch variance.
     */
    public void recalibrateBatchNorm(List<LabeledBatch> batches) {
        gradientsOffOnThisThread();
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("at least one batch is needed to recalibrate BatchNorm");
        }
        dense.resetRunningStatistics();
        int i = 0;
        for (LabeledBatch batch : batches) {
            i++;
            try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
                forward(input(step, batch.pixels(), batch.labels()), true, 1f - 1f / i, null);
            }
        }
    }

    /**
     * FedTiny adjustment, agent side (algorithms.md 3.4 B3): the gradient of the loss of one batch with
     * respect to the masked weights, at the inactive positions of each requested layer, reduced to its
     * top-{@code k_ℓ} by magnitude in a bounded buffer (signed values). BatchNorm uses batch statistics
     * without updating its running statistics; no weight changes. PyTorch still materialises the dense
     * gradient of each requested layer (only those) during back-propagation, and it is copied once to
     * the heap.
     *
     * @param topK {@code k_ℓ} by sparse layer name (the layers of the block being adjusted)
     */
    public Map<String, SparseTensor> topKInactiveGradients(float[] pixels, int[] labels, Map<String, Integer> topK) {
        gradientsOffOnThisThread();
        for (String layer : topK.keySet()) {
            weight(layer);
        }
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            NDArray x = input(step, pixels, labels);
            NDArray oneHot = step.create(labels).oneHot(classes);
            Map<String, NDArray> effective = new LinkedHashMap<>();
            for (String layer : sparse.names()) {
                NDArray eff = sparse.masked(layer);
                // Only the requested layers get a gradient: the engine then materialises no other layer's.
                eff.setRequiresGradient(topK.containsKey(layer));
                effective.put(layer, eff);
            }
            try (GradientCollector collector = newCollector()) {
                collector.backward(crossEntropy(forward(x, true, 1f, effective), oneHot));
            }
            Map<String, SparseTensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, Integer> e : topK.entrySet()) {
                float[] gradient = effective.get(e.getKey()).getGradient().toFloatArray();
                out.put(e.getKey(), TopKGradientBuffer.select(gradient, sparse.keepMask(e.getKey()), e.getValue()));
            }
            for (NDArray p : dense.trainable()) {
                NDArray g = p.getGradient();
                g.subi(g);
            }
            return out;
        }
    }

    /** A gradient collector of this model's engine (one at a time per JVM). */
    protected final GradientCollector newCollector() {
        return Engine.getEngine(manager.getEngine().getEngineName()).newGradientCollector();
    }

    /**
     * Bytes the engine's autograd keeps for backward in one {@link #trainStep} on {@code batch} images,
     * computed from the layer shapes where a subclass knows them; empty otherwise.
     */
    public java.util.OptionalLong wholeGraphCacheBytes(int batch) {
        return java.util.OptionalLong.empty();
    }

    /** One batch of images and labels. */
    public record LabeledBatch(float[] pixels, int[] labels) {
    }

    protected final NDArray input(NDManager step, float[] pixels, int[] labels) {
        checkBatch(pixels, labels);
        return step.create(pixels, new Shape(labels.length, inputChannels, side, side));
    }

    /** A batch must hold {@code labels.length} images of this model's size and labels of its classes. */
    protected final void checkBatch(float[] pixels, int[] labels) {
        long per = (long) inputChannels * side * side;
        if (pixels.length != labels.length * per) {
            throw new IllegalArgumentException(pixels.length + " pixels for a batch of " + labels.length + " images of " + per + " values");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("labels[" + i + "] = " + labels[i] + " is not a class in [0, " + classes + ")");
            }
        }
    }

    protected static NDArray crossEntropy(NDArray logits, NDArray oneHot) {
        return logits.logSoftmax(1).mul(oneHot).sum(new int[] {1}).mean().neg();
    }

    /**
     * PyTorch's grad mode is per thread and on in every new thread, and in-place updates of a parameter
     * that requires a gradient fail while it is on: every public operation turns it off for the calling
     * thread first (a gradient collector turns it on only for its own scope), so that a model may be
     * used from any one thread at a time (agents of a simulation run on their own threads).
     */
    protected final void gradientsOffOnThisThread() {
        if ("PyTorch".equals(manager.getEngine().getEngineName())) {
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        }
    }

    /** The keep-mask of a sparse layer as a 0/1 float tensor of the layer's shape. */
    protected final NDArray maskTensor(String layer) {
        return sparse.mask(layer);
    }

    /** The weight tensor of a sparse layer (requires a gradient; inactive entries are +0). */
    protected final NDArray weight(String layer) {
        return sparse.weight(layer);
    }

    @Override
    public void close() {
        manager.close();
    }
}
