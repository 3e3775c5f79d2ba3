package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The coordinator builds the global model from {@link CnnLayout} without DJL; the agents' CNNs must
 * declare exactly the same tensors, and start from the same weights for the same seed.
 */
class CnnLayoutTest {

    static void assertSameModel(CnnLayout layout, MaskedCnn cnn, long seed) {
        assertEquals(layout.sparseLayers(), cnn.sparseLayers());
        Map<String, float[]> dense = cnn.denseState();
        Map<String, float[]> expected = layout.initialDenseState();
        assertEquals(expected.keySet(), dense.keySet());
        expected.forEach((name, values) -> assertArrayEquals(values, dense.get(name), name));
        assertEquals(layout.batchNormChannels(), cnn.batchNormChannels());
        List<float[]> weights = layout.initialWeights(seed);
        for (int l = 0; l < weights.size(); l++) {
            String name = layout.sparseLayers().get(l).name();
            assertArrayEquals(weights.get(l), cnn.weights(name), name);
        }
    }

    @Test
    void smallVggLayoutMatchesTheAgentsCnn() {
        try (SmallVggCnn cnn = new SmallVggCnn(new CnnConfig(1, 28, new int[] {4, 8, 16}, 10), 21, Device.cpu())) {
            assertSameModel(CnnLayout.smallVgg(1, 28, new int[] {4, 8, 16}, 10), cnn, 21);
        }
    }

    @Test
    void resnet18LayoutMatchesTheAgentsCnn() {
        try (ResNet18 cnn = new ResNet18(1, 28, 10, 4, 8, Device.cpu())) {
            assertSameModel(CnnLayout.resnet18(1, 28, 10, 4), cnn, 8);
        }
    }

    @Test
    void nsConvVggLayoutMatchesTheAgentsCnn() {
        try (NsConvCnn cnn = new NsConvCnn(new CnnConfig(1, 28, new int[] {4, 8, 16}, 10), 5, Device.cpu())) {
            assertSameModel(CnnLayout.nsConvVgg(1, 28, new int[] {4, 8, 16}, 10), cnn, 5);
        }
    }
}
