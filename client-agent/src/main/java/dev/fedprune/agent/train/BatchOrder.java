package dev.fedprune.agent.train;

import dev.fedprune.agent.image.LabeledImages;
import java.util.SplittableRandom;

/** Mini-batches in a seeded random order, reshuffled after every pass over the data. */
final class BatchOrder {
    private final LabeledImages images;
    private final int batchSize;
    private final SplittableRandom random;
    private final int[] order;
    private int position;

    BatchOrder(LabeledImages images, int batchSize, SplittableRandom random) {
        this.images = images;
        this.batchSize = Math.min(batchSize, images.size());
        this.random = random;
        this.order = new int[images.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        shuffle();
    }

    int batchSize() {
        return batchSize;
    }

    LabeledImages.Batch next() {
        if (position + batchSize > order.length) {
            shuffle();
        }
        LabeledImages.Batch b = images.batch(order, position, position + batchSize);
        position += batchSize;
        return b;
    }

    private void shuffle() {
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        position = 0;
    }
}
