package dev.fedprune.agent.image;

import java.util.SplittableRandom;

/**
 * Images to train on where Fashion-MNIST is not installed: ten classes of 28x28 grey images, a bright
 * bar whose position and orientation is the class, plus noise. Learnable by the small CNNs in a few
 * rounds; for demos and tests, never for results.
 */
public final class GeneratedImages {
    private GeneratedImages() {
    }

    /** {@code count} images, classes in turn (0, 1, ..., 9, 0, ...), noise drawn from {@code seed}. */
    public static LabeledImages bars(int count, long seed) {
        int side = FashionMnist.SIDE;
        int area = side * side;
        SplittableRandom random = new SplittableRandom(seed);
        byte[] pixels = new byte[count * area];
        byte[] labels = new byte[count];
        for (int i = 0; i < count; i++) {
            int label = i % FashionMnist.CLASSES;
            labels[i] = (byte) label;
            for (int p = 0; p < area; p++) {
                int r = p / side;
                int c = p % side;
                boolean bar = label < 5 ? Math.abs(r - (4 + 5 * label)) <= 1 : Math.abs(c - (4 + 5 * (label - 5))) <= 1;
                pixels[i * area + p] = (byte) Math.min(255, (bar ? 180 : 0) + random.nextInt(60));
            }
        }
        return new LabeledImages(new ImageSet(count, side, side, pixels), labels, FashionMnist.CLASSES);
    }
}
