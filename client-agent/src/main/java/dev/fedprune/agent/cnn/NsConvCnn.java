package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import dev.fedprune.aggregation.sparsetrain.fedmef.ActivationPruning;
import dev.fedprune.aggregation.sparsetrain.fedmef.StoredActivation;
import dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation;
import java.util.ArrayList;
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
 * <p><b>Training</b> ({@link #trainStep}) is layer-wise, because DJL has no custom autograd function.
 * The forward pass runs with gradients off, so the engine keeps nothing; per conv/linear layer this
 * class keeps only what {@link ActivationPruning} keeps of its input at removal ratio {@code gamma}
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

    // ------------------------------------------------------------------ layer-wise training

    /** Called once a layer's gradients are complete: its sparse weight and its dense parameters. */
    private interface LayerDone {
        void accept(String sparseLayer, List<NDArray> denseParameters);
    }

    private float layerwise(float[] pixels, int[] labels, LayerDone done) {
        gradientsOffOnThisThread();
        checkBatch(pixels, labels);
        int blocks = config.channels().length;
        int n = labels.length;
        Meter meter = new Meter();
        StoredActivation[] inputs = new StoredActivation[blocks + 1];
        long[][] inputDims = new long[blocks + 1][];
        byte[][] routes = new byte[blocks][];
        long[][] convDims = new long[blocks][];
        NDArray[] layerWeights = new NDArray[blocks + 1]; // Ŵ of each conv, W ⊙ m of the classifier
        List<ActivationMemory.StoredInput> stored = new ArrayList<>();
        long routeBytes = 0;
        // Every intermediate tensor lives in the scope of the operation that makes it, so that nothing of
        // a layer's activations outlives its forward pass except what `inputs` and `routes` keep.
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            float[] h = pixels;
            long[] dims = {n, config.inputChannels(), config.side(), config.side()};
            for (int b = 0; b < blocks; b++) {
                int block = b;
                inputDims[b] = dims;
                inputs[b] = keep(h, meter);
                layerWeights[b] = scoped(() -> standardised(masked(convName(block), null), maskTensor(convName(block)), gains[block]));
                float[] in = h;
                long[] inDims = dims;
                float[] z = scoped(step, s -> Conv2d.conv2d(s.create(in, new Shape(inDims)), layerWeights[block], biases[block],
                        new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow().toFloatArray());
                convDims[b] = new long[] {n, config.channels()[b], dims[2], dims[3]};
                Pooled pooled = poolAndRoute(z, convDims[b]);
                routes[b] = pooled.routes();
                meter.hold(routes[b].length, routes[b].length);
                routeBytes += routes[b].length;
                h = pooled.values();
                dims = new long[] {n, convDims[b][1], convDims[b][2] / 2, convDims[b][3] / 2};
            }
            inputDims[blocks] = new long[] {n, config.classifierInputs()};
            inputs[blocks] = keep(h, meter);
            for (int b = 0; b <= blocks; b++) {
                String layer = b < blocks ? convName(b) : "fc.weight";
                stored.add(new ActivationMemory.StoredInput(layer, inputs[b].size(), inputs[b].keptCount(), inputs[b].format(), inputs[b].heldBytes()));
            }
            layerWeights[blocks] = scoped(() -> masked("fc.weight", null));
            float[] flat = h;
            float[] loss = new float[1];
            float[] delta = scoped(step, s -> {
                NDArray logits = Linear.linear(s.create(flat, new Shape(inputDims[blocks])), layerWeights[blocks], classifierBias).singletonOrThrow();
                // δ of the logits from a graph over the loss alone: the same arithmetic as whole-graph autograd.
                logits.setRequiresGradient(true);
                try (GradientCollector collector = newCollector()) {
                    NDArray l = crossEntropy(logits, s.create(labels).oneHot(classes()));
                    collector.backward(l);
                    loss[0] = l.getFloat();
                }
                return logits.getGradient().toFloatArray();
            });
            h = null;

            long[] classifierOut = {n, config.classes()};
            float[] dx = backward(step, inputs[blocks], inputDims[blocks], classifierOut, (from, rows) -> slice(delta, classifierOut, from, rows),
                    true, meter, layerWeights[blocks], blocks, (x, w) -> Linear.linear(x, w, classifierBias).singletonOrThrow());
            meter.release(inputs[blocks].heldBytes(), 4L * inputs[blocks].size());
            inputs[blocks] = null;
            done.accept("fc.weight", List.of(classifierBias));
            for (int b = blocks - 1; b >= 0; b--) {
                int block = b;
                float[] pooledGradient = dx;
                byte[] route = routes[b];
                dx = backward(step, inputs[b], inputDims[b], convDims[b], (from, rows) -> unpool(pooledGradient, route, convDims[block], from, rows),
                        b > 0, meter, layerWeights[b], b, (x, w) -> Conv2d.conv2d(x, w, biases[block], new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)
                                .singletonOrThrow());
                meter.release(routes[b].length, routes[b].length);
                routes[b] = null;
                meter.release(inputs[b].heldBytes(), 4L * inputs[b].size());
                inputs[b] = null;
                done.accept(convName(b), List.of(gains[b], biases[b]));
            }
            lastStepMemory = new ActivationMemory(meter.peak, meter.densePeak, stored, routeBytes);
            return loss[0];
        } finally {
            for (NDArray w : layerWeights) {
                if (w != null) {
                    w.close();
                }
            }
        }
    }

    /** Keeps what SAP keeps of an activation (copied to the heap). */
    private StoredActivation keep(float[] activation, Meter meter) {
        StoredActivation stored = ActivationPruning.store(activation, gamma);
        meter.hold(stored.heldBytes(), 4L * stored.size());
        return stored;
    }

    /** The output gradient of samples {@code [from, from + rows)} of a layer. */
    private interface OutputGradient {
        float[] rows(int from, int rows);
    }

    /** Runs a conv/linear layer on an input slice with the given (leaf) weight. */
    private interface LayerOp {
        NDArray apply(NDArray input, NDArray weight);
    }

    /**
     * Back-propagates through one conv/linear layer whose input was kept as {@code stored}: for each slice
     * of the batch, rebuilds {@code x̃}, reruns the layer with the weight of the forward pass as a
     * leaf and back-propagates {@code Σ y·δ}, accumulating the gradient of that weight and of the bias;
     * then carries the weight's gradient back to the sparse weight (and NSConv's gain) through the
     * standardisation (or the mask). Returns the input gradient, or null when not asked for.
     */
    private float[] backward(NDManager step, StoredActivation stored, long[] inputDims, long[] outputDims, OutputGradient delta,
                             boolean inputGradient, Meter meter, NDArray weight, int layer, LayerOp op) {
        int n = (int) inputDims[0];
        int perSample = stored.size() / n;
        float[] dx = inputGradient ? new float[stored.size()] : null;
        weight.setRequiresGradient(true); // the weight of the forward pass becomes a leaf that collects its gradient
        for (int from = 0; from < n; from += backwardChunkRows) {
            int rows = Math.min(backwardChunkRows, n - from);
            float[] slice = new float[rows * perSample];
            stored.rebuildInto(from * perSample, slice);
            long rebuilt = 2L * 4 * slice.length; // the slice on the heap and as a native tensor
            meter.hold(rebuilt, 0);
            long[] in = inputDims.clone();
            in[0] = rows;
            long[] out = outputDims.clone();
            out[0] = rows;
            float[] sliceDelta = delta.rows(from, rows);
            float[] gradient = scoped(step, s -> {
                NDArray x = s.create(slice, new Shape(in));
                if (inputGradient) {
                    x.setRequiresGradient(true);
                }
                try (GradientCollector collector = newCollector()) {
                    collector.backward(op.apply(x, weight).mul(s.create(sliceDelta, new Shape(out))).sum());
                }
                return inputGradient ? x.getGradient().toFloatArray() : null;
            });
            meter.release(rebuilt, 0);
            if (gradient != null) {
                System.arraycopy(gradient, 0, dx, from * perSample, gradient.length);
            }
        }
        String name = layer < config.channels().length ? convName(layer) : "fc.weight";
        scoped(() -> {
            NDArray upstream = weight.getGradient();
            try (GradientCollector collector = newCollector()) {
                NDArray w = layer < config.channels().length
                        ? standardised(masked(name, null), maskTensor(name), gains[layer]) : masked(name, null);
                collector.backward(w.mul(upstream).sum());
            }
            return null;
        });
        return dx;
    }

    /** Runs {@code work} in its own scope: every tensor it makes is closed on return except its result (may be null). */
    private static NDArray scoped(java.util.function.Supplier<NDArray> work) {
        try (NDScope scope = new NDScope()) {
            NDArray result = work.get();
            if (result != null) {
                NDScope.unregister(result);
            }
            return result;
        }
    }

    /** Runs {@code work} on a fresh sub-manager in its own scope; every tensor it makes is closed on return. */
    private static float[] scoped(NDManager parent, java.util.function.Function<NDManager, float[]> work) {
        try (NDScope scope = new NDScope(); NDManager m = parent.newSubManager()) {
            return work.apply(m);
        }
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

    /** {@code ReLU(maxpool(z))} and the packed route codes of a block. */
    record Pooled(float[] values, byte[] routes) {
    }

    /**
     * 2x2 max-pool (floor mode) and ReLU of {@code z} ({@code [n, c, h, w]}, row-major) on the heap. The
     * code of a pooled output is 0 when its maximum is not positive (ReLU passes no gradient) and
     * otherwise 1 + the row-major index in its window of the first maximal entry, where PyTorch's
     * max-pool routes the gradient (a NaN counts as maximal, as there).
     */
    static Pooled poolAndRoute(float[] z, long[] dims) {
        int n = (int) dims[0];
        int c = (int) dims[1];
        int h = (int) dims[2];
        int w = (int) dims[3];
        int hp = h / 2;
        int wp = w / 2;
        float[] values = new float[n * c * hp * wp];
        byte[] routes = new byte[(values.length + 1) / 2];
        int o = 0;
        for (int plane = 0; plane < n * c; plane++) {
            int base = plane * h * w;
            for (int i = 0; i < hp; i++) {
                for (int j = 0; j < wp; j++, o++) {
                    int top = base + 2 * i * w + 2 * j;
                    float max = z[top];
                    int arg = 0;
                    for (int k = 1; k < 4; k++) {
                        float v = z[top + (k >> 1) * w + (k & 1)];
                        if (v > max || Float.isNaN(v)) {
                            max = v;
                            arg = k;
                        }
                    }
                    int code = max > 0 ? arg + 1 : 0;
                    values[o] = max > 0 ? max : 0f;
                    setRoute(routes, o, code);
                }
            }
        }
        return new Pooled(values, routes);
    }

    /**
     * The gradient of {@code z} for samples {@code [from, from + rows)} from that of {@code ReLU(maxpool(z))}
     * ({@code [n, c, h/2, w/2]}), routed by the codes; {@code 0 + g} where routed, as PyTorch accumulates
     * into zeros (so a {@code −0} gradient arrives as {@code +0}), and {@code +0} elsewhere.
     */
    static float[] unpool(float[] pooledGradient, byte[] routes, long[] convDims, int from, int rows) {
        int c = (int) convDims[1];
        int h = (int) convDims[2];
        int w = (int) convDims[3];
        int hp = h / 2;
        int wp = w / 2;
        float[] dz = new float[rows * c * h * w];
        int o = from * c * hp * wp;
        for (int plane = 0; plane < rows * c; plane++) {
            int base = plane * h * w;
            for (int i = 0; i < hp; i++) {
                for (int j = 0; j < wp; j++, o++) {
                    int code = route(routes, o);
                    if (code != 0) {
                        int k = code - 1;
                        dz[base + (2 * i + (k >> 1)) * w + 2 * j + (k & 1)] = 0f + pooledGradient[o];
                    }
                }
            }
        }
        return dz;
    }

    /** Samples {@code [from, from + rows)} of a row-major array whose first dimension is the batch. */
    private static float[] slice(float[] values, long[] dims, int from, int rows) {
        int per = (int) (values.length / dims[0]);
        return java.util.Arrays.copyOfRange(values, from * per, (from + rows) * per);
    }

    /** Sets the 4-bit code of pooled output {@code o}: two per byte, the even one in the low nibble. */
    static void setRoute(byte[] routes, int o, int code) {
        routes[o >>> 1] |= (byte) ((code & 0xf) << ((o & 1) * 4));
    }

    /** The 4-bit code of pooled output {@code o}. */
    static int route(byte[] routes, int o) {
        return (routes[o >>> 1] >>> ((o & 1) * 4)) & 0xf;
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

    private static String convName(int block) {
        return "conv" + block + ".weight";
    }

    /** Bytes held for backward now and at most, actual and as a dense cache would hold them. */
    private static final class Meter {
        long held;
        long peak;
        long denseHeld;
        long densePeak;

        void hold(long bytes, long denseBytes) {
            held += bytes;
            denseHeld += denseBytes;
            peak = Math.max(peak, held);
            densePeak = Math.max(densePeak, denseHeld);
        }

        void release(long bytes, long denseBytes) {
            held -= bytes;
            denseHeld -= denseBytes;
        }
    }
}
