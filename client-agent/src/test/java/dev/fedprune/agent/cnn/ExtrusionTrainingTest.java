package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.fedmef.MarkedWeights;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * FedMef's budget-aware extrusion inside a real training step: the penalty changes exactly the marked
 * weights (by the learning rate times 2λθ), pulls them toward zero over the steps, and leaves every
 * other weight, active or not, as plain training would.
 */
class ExtrusionTrainingTest {
    private static final CnnConfig TINY = new CnnConfig(1, 28, new int[] {4, 8}, 10);

    static MaskedCnn model() {
        MaskedCnn cnn = new SmallVggCnn(TINY, 3, Device.cpu());
        SmallVggCnnTest.applyErkMasks(cnn);
        return cnn;
    }

    static Map<String, int[]> marks(MaskedCnn cnn) {
        Map<String, int[]> marked = new LinkedHashMap<>();
        for (LayerShape l : cnn.sparseLayers()) {
            int active = (int) cnn.keepMask(l.name()).cardinality();
            marked.put(l.name(), MarkedWeights.mark(cnn.weights(l.name()), cnn.keepMask(l.name()), active / 5).indices());
        }
        return marked;
    }

    @Test
    void penaltyChangesOnlyTheMarkedWeightsAndShrinksThem() {
        float[][] b = SmallVggCnnTest.batch();
        int[] labels = SmallVggCnnTest.labels(b[1]);
        float lambda = 2f;
        float rate = 0.05f;
        try (MaskedCnn plain = model(); MaskedCnn extruded = model()) {
            Map<String, int[]> marked = marks(extruded);
            extruded.setExtrusion(marked, lambda);
            Map<String, float[]> before = new LinkedHashMap<>();
            for (LayerShape l : extruded.sparseLayers()) {
                before.put(l.name(), extruded.weights(l.name()));
            }
            double normBefore = extruded.markedNorm();
            plain.trainStep(b[0], labels, rate);
            extruded.trainStep(b[0], labels, rate);
            for (LayerShape l : extruded.sparseLayers()) {
                float[] p = plain.weights(l.name());
                float[] e = extruded.weights(l.name());
                float[] w0 = before.get(l.name());
                java.util.Set<Integer> m = new java.util.HashSet<>();
                for (int i : marked.get(l.name())) {
                    m.add(i);
                }
                for (int i = 0; i < p.length; i++) {
                    if (m.contains(i)) {
                        // w1 = w0 - rate * (g + 2λ w0): the difference to plain training is rate * 2λ w0.
                        assertEquals(-rate * 2 * lambda * w0[i], e[i] - p[i], 1e-6f, l.name() + "[" + i + "] marked");
                    } else {
                        assertEquals(p[i], e[i], 0f, l.name() + "[" + i + "] is not marked");
                    }
                }
            }
            for (int s = 0; s < 20; s++) {
                extruded.trainStep(b[0], labels, rate);
            }
            double normAfter = extruded.markedNorm();
            assertTrue(normAfter < 0.5 * normBefore, "marked norm " + normBefore + " -> " + normAfter);
            extruded.setExtrusion(Map.of(), 0f);
            assertEquals(0.0, extruded.markedNorm());
        }
    }

    @Test
    void marksMustBeActiveWeights() {
        try (MaskedCnn cnn = model()) {
            LayerShape l = cnn.sparseLayers().get(0);
            int inactive = 0;
            while (cnn.keepMask(l.name()).get(inactive)) {
                inactive++;
            }
            int at = inactive;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cnn.setExtrusion(Map.of(l.name(), new int[] {at}), 0.1f));
            assertTrue(e.getMessage().contains("not an active weight"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cnn.setExtrusion(Map.of(), Float.NaN));
        }
    }
}
