package dev.fedprune.agent.cnn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import dev.fedprune.aggregation.sparsetrain.fedmef.ActivationPruning;
import dev.fedprune.aggregation.sparsetrain.fedmef.StoredActivation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The layer-wise trainer of {@link NsConvCnn} (its class comment says how it works): a forward pass
 * with gradients off that keeps only what scaled activation pruning keeps of each layer's input and the
 * max-pool/ReLU routes, then a backward pass layer by layer from those, in slices of the batch.
 */
final class NsConvLayerwiseTrainer {
    private final NsConvCnn model;
    private final CnnConfig config;
    private final NDArray[] gains;
    private final NDArray[] biases;
    private final NDArray classifierBias;

    NsConvLayerwiseTrainer(NsConvCnn model, CnnConfig config, NDArray[] gains, NDArray[] biases, NDArray classifierBias) {
        this.model = model;
        this.config = config;
        this.gains = gains;
        this.biases = biases;
        this.classifierBias = classifierBias;
    }

    /** Called once a layer's gradients are complete: its sparse weight and its dense parameters. */
    interface LayerDone {
        void accept(String sparseLayer, List<NDArray> denseParameters);
    }

    /** What one step returns: the mean cross-entropy before any update, and what was held for backward. */
    record Result(float loss, ActivationMemory memory) {
    }

    /**
     * Forward and backward over one batch, keeping each layer's input at SAP removal ratio {@code gamma}
     * and rebuilding it {@code chunkRows} samples at a time; {@code done} is called per layer, output first.
     */
    Result run(float[] pixels, int[] labels, double gamma, int chunkRows, LayerDone done) {
        model.gradientsOffOnThisThread();
        model.checkBatch(pixels, labels);
        int blocks = config.channels().length;
        int n = labels.length;
        BackwardMeter meter = new BackwardMeter();
        StoredActivation[] inputs = new StoredActivation[blocks + 1];
        long[][] inputDims = new long[blocks + 1][];
        byte[][] routes = new byte[blocks][];
        long[][] convDims = new long[blocks][];
        NDArray[] layerWeights = new NDArray[blocks + 1]; // Ŵ of each conv, W ⊙ m of the classifier
        List<ActivationMemory.StoredInput> stored = new ArrayList<>();
        long routeBytes = 0;
        // Every intermediate tensor lives in the scope of the operation that makes it, so that nothing of
        // a layer's activations outlives its forward pass except what `inputs` and `routes` keep.
        try (NDScope scope = new NDScope(); NDManager step = model.manager.newSubManager()) {
            float[] h = pixels;
            long[] dims = {n, config.inputChannels(), config.side(), config.side()};
            for (int b = 0; b < blocks; b++) {
                int block = b;
                inputDims[b] = dims;
                inputs[b] = keep(h, gamma, meter);
                layerWeights[b] = scoped(() -> NsConvCnn.standardised(model.masked(NsConvCnn.convName(block), null), model.maskTensor(NsConvCnn.convName(block)), gains[block]));
                float[] in = h;
                long[] inDims = dims;
                float[] z = scoped(step, s -> Conv2d.conv2d(s.create(in, new Shape(inDims)), layerWeights[block], biases[block],
                        new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow().toFloatArray());
                convDims[b] = new long[] {n, config.channels()[b], dims[2], dims[3]};
                MaxPoolRoutes.Pooled pooled = MaxPoolRoutes.poolAndRoute(z, convDims[b]);
                routes[b] = pooled.routes();
                meter.hold(routes[b].length, routes[b].length);
                routeBytes += routes[b].length;
                h = pooled.values();
                dims = new long[] {n, convDims[b][1], convDims[b][2] / 2, convDims[b][3] / 2};
            }
            inputDims[blocks] = new long[] {n, config.classifierInputs()};
            inputs[blocks] = keep(h, gamma, meter);
            for (int b = 0; b <= blocks; b++) {
                String layer = b < blocks ? NsConvCnn.convName(b) : "fc.weight";
                stored.add(new ActivationMemory.StoredInput(layer, inputs[b].size(), inputs[b].keptCount(), inputs[b].format(), inputs[b].heldBytes()));
            }
            layerWeights[blocks] = scoped(() -> model.masked("fc.weight", null));
            float[] flat = h;
            float[] loss = new float[1];
            float[] delta = scoped(step, s -> {
                NDArray logits = Linear.linear(s.create(flat, new Shape(inputDims[blocks])), layerWeights[blocks], classifierBias).singletonOrThrow();
                // δ of the logits from a graph over the loss alone: the same arithmetic as whole-graph autograd.
                logits.setRequiresGradient(true);
                try (GradientCollector collector = model.newCollector()) {
                    NDArray l = MaskedCnn.crossEntropy(logits, s.create(labels).oneHot(model.classes()));
                    collector.backward(l);
                    loss[0] = l.getFloat();
                }
                return logits.getGradient().toFloatArray();
            });
            h = null;

            long[] classifierOut = {n, config.classes()};
            float[] dx = backward(step, inputs[blocks], inputDims[blocks], classifierOut, (from, rows) -> slice(delta, classifierOut, from, rows),
                    true, chunkRows, meter, layerWeights[blocks], blocks, (x, w) -> Linear.linear(x, w, classifierBias).singletonOrThrow());
            meter.release(inputs[blocks].heldBytes(), 4L * inputs[blocks].size());
            inputs[blocks] = null;
            done.accept("fc.weight", List.of(classifierBias));
            for (int b = blocks - 1; b >= 0; b--) {
                int block = b;
                float[] pooledGradient = dx;
                byte[] route = routes[b];
                dx = backward(step, inputs[b], inputDims[b], convDims[b], (from, rows) -> MaxPoolRoutes.unpool(pooledGradient, route, convDims[block], from, rows),
                        b > 0, chunkRows, meter, layerWeights[b], b, (x, w) -> Conv2d.conv2d(x, w, biases[block], new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)
                                .singletonOrThrow());
                meter.release(routes[b].length, routes[b].length);
                routes[b] = null;
                meter.release(inputs[b].heldBytes(), 4L * inputs[b].size());
                inputs[b] = null;
                done.accept(NsConvCnn.convName(b), List.of(gains[b], biases[b]));
            }
            return new Result(loss[0], new ActivationMemory(meter.peak, meter.densePeak, stored, routeBytes));
        } finally {
            for (NDArray w : layerWeights) {
                if (w != null) {
                    w.close();
                }
            }
        }
    }

    /** Keeps what SAP keeps of an activation (copied to the heap). */
    private static StoredActivation keep(float[] activation, double gamma, BackwardMeter meter) {
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
                             boolean inputGradient, int chunkRows, BackwardMeter meter, NDArray weight, int layer, LayerOp op) {
        int n = (int) inputDims[0];
        int perSample = stored.size() / n;
        float[] dx = inputGradient ? new float[stored.size()] : null;
        weight.setRequiresGradient(true); // the weight of the forward pass becomes a leaf that collects its gradient
        for (int from = 0; from < n; from += chunkRows) {
            int rows = Math.min(chunkRows, n - from);
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
                try (GradientCollector collector = model.newCollector()) {
                    collector.backward(op.apply(x, weight).mul(s.create(sliceDelta, new Shape(out))).sum());
                }
                return inputGradient ? x.getGradient().toFloatArray() : null;
            });
            meter.release(rebuilt, 0);
            if (gradient != null) {
                System.arraycopy(gradient, 0, dx, from * perSample, gradient.length);
            }
        }
        String name = layer < config.channels().length ? NsConvCnn.convName(layer) : "fc.weight";
        scoped(() -> {
            NDArray upstream = weight.getGradient();
            try (GradientCollector collector = model.newCollector()) {
                NDArray w = layer < config.channels().length
                        ? NsConvCnn.standardised(model.masked(name, null), model.maskTensor(name), gains[layer]) : model.masked(name, null);
                collector.backward(w.mul(upstream).sum());
            }
            return null;
        });
        return dx;
    }

    /** Runs {@code work} in its own scope: every tensor it makes is closed on return except its result (may be null). */
    private static NDArray scoped(Supplier<NDArray> work) {
        try (NDScope scope = new NDScope()) {
            NDArray result = work.get();
            if (result != null) {
                NDScope.unregister(result);
            }
            return result;
        }
    }

    /** Runs {@code work} on a fresh sub-manager in its own scope; every tensor it makes is closed on return. */
    private static float[] scoped(NDManager parent, Function<NDManager, float[]> work) {
        try (NDScope scope = new NDScope(); NDManager m = parent.newSubManager()) {
            return work.apply(m);
        }
    }

    /** Samples {@code [from, from + rows)} of a row-major array whose first dimension is the batch. */
    private static float[] slice(float[] values, long[] dims, int from, int rows) {
        int per = (int) (values.length / dims[0]);
        return Arrays.copyOfRange(values, from * per, (from + rows) * per);
    }
}
