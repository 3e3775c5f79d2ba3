package dev.fedprune.agent.cnn;

import java.util.Arrays;

/**
 * Shape of the small VGG-style CNN: one 3x3 convolution + BatchNorm + ReLU + 2x2 max-pool block per
 * entry of {@code channels}, then one linear classifier.
 *
 * @param inputChannels 1 for grey images
 * @param side          image height and width (28 for Fashion-MNIST)
 * @param channels      output channels of each convolution block
 * @param classes       number of classes
 */
public record CnnConfig(int inputChannels, int side, int[] channels, int classes) {

    public CnnConfig {
        if (inputChannels < 1 || classes < 2 || channels.length == 0) {
            throw new IllegalArgumentException("need inputChannels >= 1, classes >= 2 and at least one block, got "
                    + inputChannels + ", " + classes + ", " + Arrays.toString(channels));
        }
        int s = side;
        for (int c : channels) {
            if (c < 1) {
                throw new IllegalArgumentException("channels must be >= 1, got " + Arrays.toString(channels));
            }
            s /= 2;
        }
        if (s < 1) {
            throw new IllegalArgumentException("side " + side + " is too small for " + channels.length + " pooling blocks");
        }
        channels = channels.clone();
    }

    /** The default for 28x28 grey images: 16, 32, 64 channels, 10 classes (about 24k weights). */
    public static CnnConfig smallVgg() {
        return new CnnConfig(1, 28, new int[] {16, 32, 64}, 10);
    }

    @Override
    public int[] channels() {
        return channels.clone();
    }

    /** Spatial side after all pooling blocks (floor division by 2 per block). */
    public int finalSide() {
        int s = side;
        for (int i = 0; i < channels.length; i++) {
            s /= 2;
        }
        return s;
    }

    public int classifierInputs() {
        return channels[channels.length - 1] * finalSide() * finalSide();
    }

    /**
     * Bytes PyTorch's autograd keeps for backward in one whole-graph training step on {@code batch}
     * images, from the shapes: per block the conv input, {@code convOutputCopies} float32 tensors of the
     * conv output's size (the ReLU output that ReLU and max-pool share, plus BatchNorm's input where there
     * is one) and max-pool's int64 indices; then the classifier input.
     */
    public long wholeGraphCacheBytes(int batch, int convOutputCopies) {
        long bytes = 0;
        long in = (long) inputChannels * side * side;
        int s = side;
        for (int c : channels) {
            long conv = (long) c * s * s;
            s /= 2;
            long pooled = (long) c * s * s;
            bytes += 4 * in + 4L * convOutputCopies * conv + 8 * pooled;
            in = pooled;
        }
        return batch * (bytes + 4 * in);
    }
}
