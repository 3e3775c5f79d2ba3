package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.pooling.Pool;
import java.util.Map;

/**
 * The small VGG-style CNN the FedTiny experiments use on this machine: per entry of
 * {@link CnnConfig#channels()} a 3x3 convolution (no bias) + BatchNorm + ReLU + 2x2 max-pool, then one
 * linear classifier. Sparse layers {@code conv0.weight … fc.weight}; BatchNorm layers {@code bn0 …}.
 */
public final class SmallVggCnn extends MaskedCnn {
    private final CnnConfig config;
    private final NDArray classifierBias;

    public SmallVggCnn(CnnConfig config, long seed, Device device) {
        super(config.inputChannels(), config.side(), config.classes(), seed, device);
        this.config = config;
        int in = config.inputChannels();
        int[] channels = config.channels();
        for (int b = 0; b < channels.length; b++) {
            addSparse("conv" + b + ".weight", new long[] {channels[b], in, 3, 3}, 2.0);
            addBatchNorm("bn" + b, channels[b]);
            in = channels[b];
        }
        addSparse("fc.weight", new long[] {config.classes(), config.classifierInputs()}, 1.0);
        classifierBias = addBias("fc.bias", config.classes());
    }

    public CnnConfig config() {
        return config;
    }

    /**
     * Per block: the conv input, the BatchNorm input (the conv output), the ReLU output that ReLU and
     * max-pool share (float32 each) and max-pool's int64 indices; then the classifier input.
     */
    @Override
    public java.util.OptionalLong wholeGraphCacheBytes(int batch) {
        return java.util.OptionalLong.of(config.wholeGraphCacheBytes(batch, 2));
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, float bnMomentum, Map<String, NDArray> effective) {
        NDArray h = x;
        Shape two = new Shape(2, 2);
        for (int b = 0; b < config.channels().length; b++) {
            h = conv(h, "conv" + b + ".weight", 1, 1, effective);
            h = Activation.relu(batchNorm(h, "bn" + b, training, bnMomentum));
            h = Pool.maxPool2d(h, two, two, new Shape(0, 0), false);
        }
        h = h.reshape(x.getShape().get(0), config.classifierInputs());
        return linear(h, "fc.weight", classifierBias, effective);
    }
}
