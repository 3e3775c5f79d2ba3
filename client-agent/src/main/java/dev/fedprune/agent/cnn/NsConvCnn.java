package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import dev.fedprune.aggregation.sparsetrain.fedmef.ActivationPruning;
import dev.fedprune.aggregation.sparsetrain.fedmef.StoredActivation;
import dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

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
 * <p><b>Training</b> ({@link #trainStep}) is layer-wise, because DJL has no custom autograd function:
 * the forward pass runs with gradients off, so the engine keeps nothing, and this class keeps, per
 * conv/linear layer, only what {@link ActivationPruning} keeps of its input at removal ratio
 * {@code gamma} (the cheapest of positions, bitmap or dense) plus, per block, a 4-bit code per pooled
 * output saying which window entry was the maximum and whether it was positive (the routing of max-pool
 * and ReLU). The backward pass walks the layers in reverse: it rebuilds the pruned input {@code x̃} a
 * slice of {@link #backwardChunkRows()} samples at a time, reruns the layer on the slice inside a
 * gradient collector and back-propagates {@code Σ y·δ}, which yields the weight (and gain, bias)
 * gradient from {@code x̃} and the exact input gradient (it depends on the weights only, the layer being
 * linear in its input). Each layer takes its SGD step as soon as its gradients are complete. With
 * {@code gamma = 0} and one slice per batch the gradients equal those of whole-graph autograd.
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
    private ActivationMemory lastStepMemory = new ActivationMemory(0, 0);

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
        int blocks = config.channels().length;
        int n = labels.length;
        Meter meter = new Meter();
        StoredActivation[] inputs = new StoredActivation[blocks + 1];
        Shape[] inputShapes = new Shape[blocks + 1];
        byte[][] routes = new byte[blocks][];
        Shape[] convShapes = new Shape[blocks];
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            NDArray h = input(step, pixels, labels);
            for (int b = 0; b < blocks; b++) {
                inputShapes[b] = h.getShape();
                inputs[b] = keep(h, meter);
                NDArray z = nsConv(h, b, masked(convName(b), null));
                h.close();
                convShapes[b] = z.getShape();
                NDArray[] pooled = poolAndRoute(z);
                z.close();
                routes[b] = pack(pooled[1].toIntArray());
                pooled[1].close();
                meter.hold(routes[b].length, routes[b].length);
                h = Activation.relu(pooled[0]);
                pooled[0].close();
            }
            NDArray flat = h.reshape(n, config.classifierInputs());
            h.close();
            inputShapes[blocks] = flat.getShape();
            inputs[blocks] = keep(flat, meter);
            NDArray logits = Linear.linear(flat, masked("fc.weight", null), classifierBias).singletonOrThrow();
            flat.close();
            // δ of the logits from a graph over the loss alone: the same arithmetic as whole-graph autograd.
            logits.setRequiresGradient(true);
            float loss;
            try (GradientCollector collector = newCollector()) {
                NDArray l = crossEntropy(logits, step.create(labels).oneHot(classes()));
                collector.backward(l);
                loss = l.getFloat();
            }
            NDArray delta = logits.getGradient();

            NDArray dx = backward(step, inputs[blocks], inputShapes[blocks], delta, true, meter,
                    x -> Linear.linear(x, masked("fc.weight", null), classifierBias).singletonOrThrow());
            meter.release(inputs[blocks].heldBytes(), 4L * inputs[blocks].size());
            inputs[blocks] = null;
            done.accept("fc.weight", List.of(classifierBias));
            for (int b = blocks - 1; b >= 0; b--) {
                Shape pooledShape = new Shape(n, convShapes[b].get(1), convShapes[b].get(2) / 2, convShapes[b].get(3) / 2);
                NDArray dz = unpool(step, dx.reshape(pooledShape), routes[b], convShapes[b]);
                dx.close();
                meter.release(routes[b].length, routes[b].length);
                routes[b] = null;
                int block = b;
                dx = backward(step, inputs[b], inputShapes[b], dz, b > 0, meter, x -> nsConv(x, block, masked(convName(block), null)));
                dz.close();
                meter.release(inputs[b].heldBytes(), 4L * inputs[b].size());
                inputs[b] = null;
                done.accept(convName(b), List.of(gains[b], biases[b]));
            }
            lastStepMemory = new ActivationMemory(meter.peak, meter.densePeak);
            return loss;
        }
    }

    /** Copies an activation to the heap and keeps what SAP keeps of it; the native tensor is the caller's to close. */
    private StoredActivation keep(NDArray activation, Meter meter) {
        StoredActivation stored = ActivationPruning.store(activation.toFloatArray(), gamma);
        meter.hold(stored.heldBytes(), 4L * stored.size());
        return stored;
    }

    /**
     * Back-propagates {@code delta} through one conv/linear layer whose input was kept as {@code stored}:
     * for each slice of the batch, rebuilds {@code x̃}, reruns the layer and back-propagates
     * {@code Σ y·δ}. Gradients accumulate in the layer's parameters; returns the input gradient (or null).
     */
    private NDArray backward(NDManager step, StoredActivation stored, Shape inputShape, NDArray delta, boolean inputGradient,
                             Meter meter, UnaryOperator<NDArray> layer) {
        int n = (int) inputShape.get(0);
        int perSample = stored.size() / n;
        NDList inputGradients = new NDList();
        for (int from = 0; from < n; from += backwardChunkRows) {
            int rows = Math.min(backwardChunkRows, n - from);
            float[] slice = new float[rows * perSample];
            stored.rebuildInto(from * perSample, slice);
            long rebuilt = 2L * 4 * slice.length; // the slice on the heap and as a native tensor
            meter.hold(rebuilt, 0);
            long[] dims = inputShape.getShape().clone();
            dims[0] = rows;
            NDArray x = step.create(slice, new Shape(dims));
            if (inputGradient) {
                x.setRequiresGradient(true);
            }
            NDArray sliceDelta = rows == n ? delta : delta.get(new NDIndex("{}:{}", from, from + rows));
            try (GradientCollector collector = newCollector()) {
                NDArray y = layer.apply(x);
                collector.backward(y.mul(sliceDelta).sum());
            }
            if (inputGradient) {
                inputGradients.add(x.getGradient());
            }
            x.close();
            meter.release(rebuilt, 0);
        }
        if (!inputGradient) {
            return null;
        }
        return inputGradients.size() == 1 ? inputGradients.get(0) : ai.djl.ndarray.NDArrays.concat(inputGradients, 0);
    }

    /** {@code conv(h, Ŵ) + bias} with NSConv's standardised weight. */
    private NDArray nsConv(NDArray h, int block, NDArray maskedWeight) {
        NDArray w = standardised(maskedWeight, maskTensor(convName(block)), gains[block]);
        return Conv2d.conv2d(h, w, biases[block], new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow();
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

    /**
     * 2x2 max-pool (floor mode) of {@code z} before ReLU: {@code [pooled maxima, route codes]}, the code of
     * a pooled output being 0 when its maximum is not positive (ReLU passes no gradient) and otherwise
     * 1 + the row-major index of the first maximal entry of its window (where max-pool routes the gradient).
     */
    private static NDArray[] poolAndRoute(NDArray z) {
        Shape s = z.getShape();
        long n = s.get(0);
        long c = s.get(1);
        long hp = s.get(2) / 2;
        long wp = s.get(3) / 2;
        NDArray cropped = s.get(2) % 2 == 0 && s.get(3) % 2 == 0 ? z : z.get(new NDIndex(":, :, :{}, :{}", 2 * hp, 2 * wp));
        NDArray windows = cropped.reshape(n, c, hp, 2, wp, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hp, wp, 4);
        NDArray max = windows.max(new int[] {4});
        NDArray route = windows.argMax(4).add(1).mul(max.gt(0f)).toType(DataType.INT32, false);
        return new NDArray[] {max, route};
    }

    /** The gradient of {@code z} from that of {@code ReLU(maxpool(z))}, routed by the codes. */
    private static NDArray unpool(NDManager step, NDArray pooledGradient, byte[] packed, Shape convShape) {
        Shape ps = pooledGradient.getShape();
        long n = ps.get(0);
        long c = ps.get(1);
        long hp = ps.get(2);
        long wp = ps.get(3);
        NDArray routes = step.create(unpack(packed, (int) ps.size()), ps);
        NDArray select = routes.oneHot(5).get(new NDIndex(":, :, :, :, 1:"));
        NDArray dz = select.mul(pooledGradient.expandDims(4))
                .reshape(n, c, hp, wp, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, 2 * hp, 2 * wp);
        if (convShape.get(3) > 2 * wp) {
            dz = dz.concat(step.zeros(new Shape(n, c, 2 * hp, convShape.get(3) - 2 * wp)), 3);
        }
        if (convShape.get(2) > 2 * hp) {
            dz = dz.concat(step.zeros(new Shape(n, c, convShape.get(2) - 2 * hp, convShape.get(3))), 2);
        }
        return dz;
    }

    /** Two 4-bit codes per byte, the first in the low nibble. */
    static byte[] pack(int[] codes) {
        byte[] out = new byte[(codes.length + 1) / 2];
        for (int i = 0; i < codes.length; i++) {
            out[i >>> 1] |= (byte) ((codes[i] & 0xf) << ((i & 1) * 4));
        }
        return out;
    }

    static int[] unpack(byte[] packed, int count) {
        int[] codes = new int[count];
        for (int i = 0; i < count; i++) {
            codes[i] = (packed[i >>> 1] >>> ((i & 1) * 4)) & 0xf;
        }
        return codes;
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
