package dev.fedprune.agent.cnn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.Map;

/**
 * ResNet-18 with the CIFAR-style stem (one 3x3 convolution, stride 1, no max-pool) built from the same
 * masked layers as {@link SmallVggCnn}: four stages of two basic blocks with {@code w, 2w, 4w, 8w}
 * channels ({@code w = 64} in the standard model), stride 2 at the first block of stages 2–4 with a
 * 1x1 convolution + BatchNorm shortcut, global average pooling and a linear classifier. Every
 * convolution and the classifier weight is a sparse layer.
 */
public final class ResNet18 extends MaskedCnn {
    private final int baseWidth;
    private final NDArray classifierBias;

    public ResNet18(int inputChannels, int side, int classes, int baseWidth, long seed, Device device) {
        super(inputChannels, side, classes, seed, device);
        if (baseWidth < 1) {
            throw new IllegalArgumentException("baseWidth must be >= 1, got " + baseWidth);
        }
        this.baseWidth = baseWidth;
        addSparse("stem.weight", new long[] {baseWidth, inputChannels, 3, 3}, 2.0);
        addBatchNorm("stem.bn", baseWidth);
        int in = baseWidth;
        for (int stage = 0; stage < 4; stage++) {
            int out = baseWidth << stage;
            for (int block = 0; block < 2; block++) {
                String p = "layer" + (stage + 1) + "." + block + ".";
                addSparse(p + "conv1.weight", new long[] {out, in, 3, 3}, 2.0);
                addBatchNorm(p + "bn1", out);
                addSparse(p + "conv2.weight", new long[] {out, out, 3, 3}, 2.0);
                addBatchNorm(p + "bn2", out);
                if (hasShortcut(stage, block)) {
                    addSparse(p + "shortcut.weight", new long[] {out, in, 1, 1}, 2.0);
                    addBatchNorm(p + "shortcut.bn", out);
                }
                in = out;
            }
        }
        addSparse("fc.weight", new long[] {classes, 8L * baseWidth}, 1.0);
        classifierBias = addBias("fc.bias", classes);
    }

    private static boolean hasShortcut(int stage, int block) {
        return stage > 0 && block == 0;
    }

    public int baseWidth() {
        return baseWidth;
    }

    @Override
    protected NDArray forward(NDArray x, boolean training, float bnMomentum, Map<String, NDArray> effective) {
        NDArray h = Activation.relu(batchNorm(conv(x, "stem.weight", 1, 1, effective), "stem.bn", training, bnMomentum));
        for (int stage = 0; stage < 4; stage++) {
            for (int block = 0; block < 2; block++) {
                String p = "layer" + (stage + 1) + "." + block + ".";
                int stride = hasShortcut(stage, block) ? 2 : 1;
                NDArray y = Activation.relu(batchNorm(conv(h, p + "conv1.weight", stride, 1, effective), p + "bn1", training, bnMomentum));
                y = batchNorm(conv(y, p + "conv2.weight", 1, 1, effective), p + "bn2", training, bnMomentum);
                NDArray shortcut = hasShortcut(stage, block)
                        ? batchNorm(conv(h, p + "shortcut.weight", 2, 0, effective), p + "shortcut.bn", training, bnMomentum)
                        : h;
                h = Activation.relu(y.add(shortcut));
            }
        }
        ai.djl.ndarray.types.Shape shape = h.getShape();
        h = h.reshape(shape.get(0), shape.get(1), shape.get(2) * shape.get(3)).mean(new int[] {2}); // global average pool
        return linear(h, "fc.weight", classifierBias, effective);
    }
}
