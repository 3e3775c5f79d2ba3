package dev.fedprune.aggregation.sparsetrain;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The tensors of a CNN for federated sparse training, without a runtime: its sparse layers (convolution
 * and classifier weights, in input-to-output order) and its dense tensors (BatchNorm parameters and
 * running statistics, biases) with their initial values. The coordinator builds, initialises and
 * aggregates the global model from this; the agent's DJL models declare exactly the same tensors.
 *
 * @param sparseLayers the sparse layers, in declaration order
 * @param gains        Kaiming gain of each sparse layer (2 for layers followed by ReLU, 1 for the classifier)
 * @param denseTensors the dense tensors, by name, with their sizes and initial values
 */
public record CnnLayout(List<LayerShape> sparseLayers, double[] gains, List<DenseTensor> denseTensors) {

    /** A dense tensor and the value it starts at (BatchNorm gamma and running variance 1, everything else 0). */
    public record DenseTensor(String name, int size, float initialValue) {
    }

    public CnnLayout {
        sparseLayers = List.copyOf(sparseLayers);
        gains = gains.clone();
        denseTensors = List.copyOf(denseTensors);
        if (gains.length != sparseLayers.size()) {
            throw new IllegalArgumentException(gains.length + " gains for " + sparseLayers.size() + " sparse layers");
        }
    }

    @Override
    public double[] gains() {
        return gains.clone();
    }

    /** The small VGG-style CNN: per entry of {@code channels} a 3x3 convolution + BatchNorm, then a linear classifier. */
    public static CnnLayout smallVgg(int imageChannels, int side, int[] channels, int classes) {
        return vgg(imageChannels, side, channels, classes, false);
    }

    /**
     * The small VGG-style CNN of FedMef, BatchNorm-free (algorithms.md 4.5): per entry of {@code channels}
     * a 3x3 NSConv (mask-aware weight standardisation, a per-channel gain {@code conv<i>.gain} starting at
     * {@link dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation#RELU_GAIN} and a bias
     * {@code conv<i>.bias}), ReLU and 2x2 max-pool, then a linear classifier.
     */
    public static CnnLayout nsConvVgg(int imageChannels, int side, int[] channels, int classes) {
        return vgg(imageChannels, side, channels, classes, true);
    }

    private static CnnLayout vgg(int imageChannels, int side, int[] channels, int classes, boolean nsConv) {
        if (imageChannels < 1 || classes < 2 || channels.length == 0) {
            throw new IllegalArgumentException("need imageChannels >= 1, classes >= 2 and at least one block");
        }
        Builder b = new Builder();
        int in = imageChannels;
        int s = side;
        for (int i = 0; i < channels.length; i++) {
            if (channels[i] < 1) {
                throw new IllegalArgumentException("channels[" + i + "] must be >= 1, got " + channels[i]);
            }
            b.sparse("conv" + i + ".weight", new long[] {channels[i], in, 3, 3}, 2.0);
            if (nsConv) {
                b.dense("conv" + i + ".gain", channels[i], (float) dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation.RELU_GAIN);
                b.dense("conv" + i + ".bias", channels[i], 0f);
            } else {
                b.batchNorm("bn" + i, channels[i]);
            }
            in = channels[i];
            s /= 2;
        }
        if (s < 1) {
            throw new IllegalArgumentException("image side " + side + " is too small for " + channels.length + " pooling blocks");
        }
        b.sparse("fc.weight", new long[] {classes, (long) in * s * s}, 1.0);
        b.dense("fc.bias", classes, 0f);
        return b.build();
    }

    /** ResNet-18 with the CIFAR-style stem and base width {@code width}. */
    public static CnnLayout resnet18(int imageChannels, int side, int classes, int width) {
        if (imageChannels < 1 || classes < 2 || width < 1) {
            throw new IllegalArgumentException("need imageChannels >= 1, classes >= 2 and width >= 1");
        }
        if (side < 8) {
            throw new IllegalArgumentException("image side " + side + " is too small for ResNet-18's three stride-2 stages (at least 8)");
        }
        Builder b = new Builder();
        b.sparse("stem.weight", new long[] {width, imageChannels, 3, 3}, 2.0);
        b.batchNorm("stem.bn", width);
        int in = width;
        for (int stage = 0; stage < 4; stage++) {
            int out = width << stage;
            for (int block = 0; block < 2; block++) {
                String p = "layer" + (stage + 1) + "." + block + ".";
                b.sparse(p + "conv1.weight", new long[] {out, in, 3, 3}, 2.0);
                b.batchNorm(p + "bn1", out);
                b.sparse(p + "conv2.weight", new long[] {out, out, 3, 3}, 2.0);
                b.batchNorm(p + "bn2", out);
                if (stage > 0 && block == 0) {
                    b.sparse(p + "shortcut.weight", new long[] {out, in, 1, 1}, 2.0);
                    b.batchNorm(p + "shortcut.bn", out);
                }
                in = out;
            }
        }
        b.sparse("fc.weight", new long[] {classes, 8L * width}, 1.0);
        b.dense("fc.bias", classes, 0f);
        return b.build();
    }

    /** Channel count of every BatchNorm layer, by name (the prefix of its {@code .runningMean} tensor). */
    public java.util.Map<String, Integer> batchNormChannels() {
        java.util.Map<String, Integer> out = new java.util.LinkedHashMap<>();
        for (DenseTensor t : denseTensors) {
            if (t.name().endsWith(".runningMean")) {
                out.put(t.name().substring(0, t.name().length() - ".runningMean".length()), t.size());
            }
        }
        return out;
    }

    public long sparseWeightCount() {
        long n = 0;
        for (LayerShape l : sparseLayers) {
            n += l.weightCount();
        }
        return n;
    }

    /**
     * Dense Kaiming-normal initial weights of every sparse layer from {@code seed}:
     * {@code std = sqrt(gain / fanIn)}, drawn layer after layer from one {@link SplittableRandom}, the
     * same draw as the agent's masked CNNs make, so both sides start from the same {@code θ0}.
     */
    public List<float[]> initialWeights(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (int l = 0; l < sparseLayers.size(); l++) {
            LayerShape layer = sparseLayers.get(l);
            long fanIn = layer.weightCount() / layer.shape()[0];
            double std = Math.sqrt(gains[l] / fanIn);
            float[] w = new float[layer.weightCount()];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (random.nextGaussian() * std);
            }
            out.add(w);
        }
        return out;
    }

    /** The initial value of every dense tensor, by name. */
    public java.util.Map<String, float[]> initialDenseState() {
        java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
        for (DenseTensor t : denseTensors) {
            float[] v = new float[t.size()];
            java.util.Arrays.fill(v, t.initialValue());
            out.put(t.name(), v);
        }
        return out;
    }

    private static final class Builder {
        final List<LayerShape> sparse = new ArrayList<>();
        final List<Double> gains = new ArrayList<>();
        final List<DenseTensor> dense = new ArrayList<>();

        void sparse(String name, long[] shape, double gain) {
            sparse.add(new LayerShape(name, shape));
            gains.add(gain);
        }

        void batchNorm(String name, int channels) {
            dense.add(new DenseTensor(name + ".gamma", channels, 1f));
            dense.add(new DenseTensor(name + ".beta", channels, 0f));
            dense.add(new DenseTensor(name + ".runningMean", channels, 0f));
            dense.add(new DenseTensor(name + ".runningVar", channels, 1f));
        }

        void dense(String name, int size, float initial) {
            dense.add(new DenseTensor(name, size, initial));
        }

        CnnLayout build() {
            double[] g = new double[gains.size()];
            for (int i = 0; i < g.length; i++) {
                g[i] = gains.get(i);
            }
            return new CnnLayout(sparse, g, dense);
        }
    }
}
