package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import dev.fedprune.aggregation.sparsetrain.fedmef.ActivationPruning;
import dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * FedMef's BatchNorm-free small CNN (algorithms.md 4.5) with scaled activation pruning (4.4 step 2).
 * Per entry of {@link CnnConfig#channels()}: a 3x3 NSConv, ReLU and 2x2 max-pool; then a linear
 * classifier. Tensors as {@code CnnLayout.nsConvVgg}: sparse {@code conv<i>.weight}, {@code fc.weight};
 * dense {@code conv<i>.gain}, {@code conv<i>.bias}, {@code fc.bias}.
 *
 * <p><b>NSConv</b> ([U], the document's recommended form): per output channel {@code o}, with the
 * active weights {@code A_o} of the masked weight and {@code d = (W − μ_o)} on {@code A_o},
 * {@code Ŵ_o = g_o·d/(‖d‖₂ + ε)} — the same as {@link WeightStandardisation}'s
 * {@code g_o(W_o − μ_o)/(s_o√N_o + ε)} since {@code s_o√N_o = ‖d‖₂}; inside the square root a floor of
 * {@value #NORM_FLOOR} keeps the gradient finite for a channel with at most one active weight.
 *
 * <p><b>Training</b> ({@link #trainStep}, run by {@link NsConvLayerwiseTrainer}) is layer-wise, because
 * DJL has no custom autograd function. The forward pass runs with gradients off, so the engine keeps
 * nothing; per conv/linear layer the trainer keeps only what {@link ActivationPruning} keeps of its input at removal ratio {@code gamma}
 * (the cheapest of positions, bitmap or dense), and per block a 4-bit code per pooled output saying
 * which window entry was the maximum and whether it was positive (the routing of max-pool and ReLU,
 * which run on the heap copy of the conv output). NSConv's standardised weight {@code Ŵ} is computed
 * once per step. The backward pass walks the layers in reverse: it rebuilds the pruned input
 * {@code x̃} a slice of {@link #backwardChunkRows()} samples at a time, reruns the layer on the slice
 * with {@code Ŵ} as a leaf inside a gradient collector and back-propagates {@code Σ y·δ}, which gives
 * the gradients of {@code Ŵ} and the bias from {@code x̃} and the exact input gradient (it depends on
 * the weights only, the layer being linear in its input); one small graph then carries {@code Ŵ}'s
 * gradient through the standardisation to the weight and the gain. Each layer takes its SGD step as
 * soon as its gradients are complete. With {@code gamma = 0} and one slice per batch the gradients
 * equal those of whole-graph autograd bit for bit.
 */
public final class NsConvCnn extends MaskedCnn {

    /** {@code ε} of NSConv. */
    public static final float NSCONV_EPSILON = 1e-4f;
    /** Added to {@code ‖d‖₂²} before the square root. */
    public static final float NORM_FLOOR = 1e-12f;
    public static final int DEFAULT_BACKWARD_CHUNK_ROWS = 8;

    private final CnnConfig config;
    private final NDArray[] gains;
    private final NDArray[] biases;
    private final NDArray classifierBias;
    private double gamma;
    private int backwardChunkRows = DEFAULT_BACKWARD_CHUNK_ROWS;
    private ActivationMemory lastStepMemory = ActivationMemory.none();
    private final NsConvLayerwiseTrainer trainer;

    public NsConvCnn(CnnConfig config, long seed, Device device) {
        super(config.inputChannels(), config.side(), config.classes(), seed, device);
        this.config = config;
        int blocks = config.channels().length;
        gains = new NDArray[blocks];
        biases = new NDArray[blocks];
        int in = config.inputChannels();
        for (int b = 0; b < blocks; b++) {
            int out = config.channels()[b];
            addSparse(convName(b), new long[] {out, in, 3, 3}, 2.0);
            gains[b] = addDense("conv" + b + ".gain", out, (float) WeightStandardisation.RELU_GAIN);
            biases[b] = addDense("conv" + b + ".bias", out, 0f);
            in = out;
        }
        addSparse("fc.weight", new long[] {config.classes(), config.classifierInputs()}, 1.0);
        classifierBias = addBias("fc.bias", config.classes());
        trainer = new NsConvLayerwiseTrainer(this, config, gains, biases, classifierBias);
    }

    public CnnConfig config() {
        return config;
    }

    /**
     * Sets SAP's removal ratio for the following training steps: the fraction of each conv/linear input
     * activation that is not kept for backward. 0 keeps the dense cache (same layer-wise backward).
     *
     * @throws IllegalArgumentException if {@code gamma} is outside [0, 1)
     */
    public void setActivationPruning(double gamma) {
        if (!(gamma >= 0 && gamma < 1)) {
            throw new IllegalArgumentException("SAP gamma must lie in [0, 1), got " + gamma);
        }
        this.gamma = gamma;
    }

    public double activationPruning() {
        return gamma;
    }

    /** Samples per slice when a layer's input is rebuilt during backward (the whole batch if larger). */
    public void setBackwardChunkRows(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("backward chunk rows must be >= 1, got " + rows);
        }
        backwardChunkRows = rows;
    }

    public int backwardChunkRows() {
        return backwardChunkRows;
    }

    /** What the last {@link #trainStep} held for backward. */
    public ActivationMemory lastStepMemory() {
        return lastStepMemory;
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, float bnMomentum, Map<String, NDArray> effective) {
        NDArray h = x;
        Shape two = new Shape(2, 2);
        for (int b = 0; b < config.channels().length; b++) {
            h = nsConv(h, b, masked(convName(b), effective));
            h = Pool.maxPool2d(Activation.relu(h), two, two, new Shape(0, 0), false);
        }
        h = h.reshape(x.getShape().get(0), config.classifierInputs());
        return linear(h, "fc.weight", classifierBias, effective);
    }

    /** One SGD step by the layer-wise SAP trainer; returns the mean cross-entropy before the step. */
    @Override
    public float trainStep(float[] pixels, int[] labels, float learningRate) {
        return layerwise(pixels, labels, (layer, dense) -> {
            sgdStep(layer, learningRate);
            for (NDArray p : dense) {
                sgdStep(p, learningRate);
            }
        });
    }

    /**
     * One SGD step by whole-graph autograd, the engine keeping every activation for backward: the
     * reference the layer-wise trainer is compared with (benchmarks; same result as {@code gamma = 0}).
     */
    public float trainStepWholeGraph(float[] pixels, int[] labels, float learningRate) {
        return super.trainStep(pixels, labels, learningRate);
    }

    /**
     * Bytes PyTorch's autograd keeps for backward in {@link #trainStepWholeGraph} on a batch of
     * {@code batch} images, computed from the layer shapes: per block the conv input (float32), the ReLU
     * output that ReLU and max-pool share (float32) and max-pool's int64 indices; the classifier input.
     * NSConv's small weight-standardisation graph is not counted.
     */
    @Override
    public java.util.OptionalLong wholeGraphCacheBytes(int batch) {
        return java.util.OptionalLong.of(config.wholeGraphCacheBytes(batch, 1));
    }

    /** The gradients of the layer-wise trainer for one batch, by tensor name, without a step. */
    Map<String, float[]> layerwiseGradients(float[] pixels, int[] labels) {
        Map<String, float[]> out = new LinkedHashMap<>();
        layerwise(pixels, labels, (layer, dense) -> {
            out.put(layer, takeGradient(weight(layer)));
            for (NDArray p : dense) {
                out.put(denseName(p), takeGradient(p));
            }
        });
        return out;
    }

    /** The gradients of whole-graph autograd for one batch (the engine's own activation cache), by tensor name. */
    Map<String, float[]> autogradGradients(float[] pixels, int[] labels) {
        gradientsOffOnThisThread();
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            NDArray x = input(step, pixels, labels);
            try (GradientCollector collector = newCollector()) {
                collector.backward(crossEntropy(forward(x, true, BN_MOMENTUM, null), step.create(labels).oneHot(classes())));
            }
            for (int b = 0; b <= config.channels().length; b++) {
                String layer = b < config.channels().length ? convName(b) : "fc.weight";
                out.put(layer, takeGradient(weight(layer)));
                for (NDArray p : denseOf(b)) {
                    out.put(denseName(p), takeGradient(p));
                }
            }
        }
        return out;
    }

    /** Runs the layer-wise trainer on one batch and records what it held for backward. */
    private float layerwise(float[] pixels, int[] labels, NsConvLayerwiseTrainer.LayerDone done) {
        NsConvLayerwiseTrainer.Result result = trainer.run(pixels, labels, gamma, backwardChunkRows, done);
        lastStepMemory = result.memory();
        return result.loss();
    }

    /** {@code Ŵ_o = g_o·d/(‖d‖₂ + ε)}, {@code d = (W − μ_o)} on the active entries of channel {@code o}. */
    static NDArray standardised(NDArray maskedWeight, NDArray mask, NDArray gain) {
        int[] fan = {1, 2, 3};
        NDArray count = mask.sum(fan, true).maximum(1f);
        NDArray mean = maskedWeight.sum(fan, true).div(count);
        NDArray centred = maskedWeight.sub(mean).mul(mask);
        NDArray norm = centred.square().sum(fan, true).add(NORM_FLOOR).sqrt();
        return centred.mul(gain.reshape(-1, 1, 1, 1)).div(norm.add(NSCONV_EPSILON));
    }

    /** {@code conv(h, Ŵ) + bias} with NSConv's standardised weight (the whole-graph forward). */
    private NDArray nsConv(NDArray h, int block, NDArray maskedWeight) {
        NDArray w = standardised(maskedWeight, maskTensor(convName(block)), gains[block]);
        return Conv2d.conv2d(h, w, biases[block], new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow();
    }

    private static float[] takeGradient(NDArray parameter) {
        NDArray g = parameter.getGradient();
        float[] values = g.toFloatArray();
        g.subi(g);
        return values;
    }

    private List<NDArray> denseOf(int block) {
        return block < config.channels().length ? List.of(gains[block], biases[block]) : List.of(classifierBias);
    }

    private String denseName(NDArray p) {
        for (int b = 0; b < gains.length; b++) {
            if (p == gains[b]) {
                return "conv" + b + ".gain";
            }
            if (p == biases[b]) {
                return "conv" + b + ".bias";
            }
        }
        return "fc.bias";
    }

    static String convName(int block) {
        return "conv" + block + ".weight";
    }
}
