package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ResNet18Test {

    @Test
    void narrowResNet18TrainsWithMasksAndKeepsInactiveWeightsZero() {
        float[][] b = SmallVggCnnTest.batch();
        int[] labels = SmallVggCnnTest.labels(b[1]);
        try (ResNet18 net = new ResNet18(1, 28, 10, 4, 11, Device.cpu())) {
            assertEquals(21, net.sparseLayers().size(), "stem, 16 block convolutions, 3 shortcuts, classifier");
            SmallVggCnnTest.applyErkMasks(net);
            float first = net.trainStep(b[0], labels, 0.05f);
            float last = first;
            for (int step = 0; step < 5; step++) {
                last = net.trainStep(b[0], labels, 0.05f);
            }
            for (LayerShape layer : net.sparseLayers()) {
                float[] w = net.weights(layer.name());
                BitMask keep = net.keepMask(layer.name());
                for (int i = 0; i < w.length; i++) {
                    if (!keep.get(i)) {
                        assertEquals(0, Float.floatToRawIntBits(w[i]), layer.name() + "[" + i + "]");
                    }
                }
            }
            assertTrue(last < first, "loss " + first + " -> " + last);
        }
    }

    @Test
    void standardResNet18BuildsAndRunsATrainingStep() {
        float[][] b = SmallVggCnnTest.batch();
        float[] two = Arrays.copyOf(b[0], 2 * 28 * 28);
        try (MaskedCnn net = CnnArchitecture.parse("resnet18").create(1, 28, 10, 1, Device.cpu())) {
            long weights = net.sparseLayers().stream().mapToLong(LayerShape::weightCount).sum();
            assertEquals(11_163_200L, weights, "ResNet-18 convolution and classifier weights for 1 input channel, 10 classes (11,164,352 for 3)");
            float loss = net.trainStep(two, new int[] {0, 1}, 0.01f);
            assertTrue(Float.isFinite(loss));
        }
    }

    @Test
    void architecturesAreSelectableByName() {
        assertEquals(CnnArchitecture.SMALL_VGG, CnnArchitecture.parse("small-vgg"));
        assertEquals(CnnArchitecture.RESNET18, CnnArchitecture.parse("ResNet_18"));
        assertThrows(IllegalArgumentException.class, () -> CnnArchitecture.parse("lenet"));
    }
}
