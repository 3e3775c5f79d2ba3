package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Momentum and weight decay against PyTorch's SGD formulas, on the whole-graph trainer (small VGG) and
 * on the layer-wise SAP trainer (NSConv VGG): two models from the same seed take the same steps, one
 * with the optimiser setting and one without, and their difference must be exactly what the formula adds.
 */
class SgdOptimizerTest {
    private static final CnnConfig TINY = new CnnConfig(1, 28, new int[] {4, 8}, 10);
    private static final float LR = 0.1f;

    private static LongFunction<MaskedCnn> model(String architecture) {
        return seed -> architecture.equals("nsconv_vgg") ? new NsConvCnn(TINY, seed, Device.cpu()) : new SmallVggCnn(TINY, seed, Device.cpu());
    }

    private static Map<String, float[]> sparseWeights(MaskedCnn cnn) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (LayerShape l : cnn.sparseLayers()) {
            out.put(l.name(), cnn.weights(l.name()));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_vgg", "nsconv_vgg"})
    void weightDecayShrinksEveryActiveWeightAndDenseParameterByLearningRateTimesDecay(String architecture) {
        float[][] b = SmallVggCnnTest.batch();
        double decay = 0.05;
        try (MaskedCnn plain = model(architecture).apply(11); MaskedCnn decayed = model(architecture).apply(11)) {
            SmallVggCnnTest.applyErkMasks(plain);
            SmallVggCnnTest.applyErkMasks(decayed);
            decayed.setOptimizer(0, decay);
            Map<String, float[]> before = sparseWeights(plain);
            Map<String, float[]> denseBefore = plain.denseState();
            plain.trainStep(b[0], SmallVggCnnTest.labels(b[1]), LR);
            decayed.trainStep(b[0], SmallVggCnnTest.labels(b[1]), LR);
            for (LayerShape l : plain.sparseLayers()) {
                float[] w0 = before.get(l.name());
                float[] a = plain.weights(l.name());
                float[] d = decayed.weights(l.name());
                BitMask keep = plain.keepMask(l.name());
                int active = 0;
                for (int i = 0; i < w0.length; i++) {
                    if (!keep.get(i)) {
                        assertEquals(0, Float.floatToRawIntBits(d[i]), l.name() + "[" + i + "] is inactive and must stay +0");
                        continue;
                    }
                    active++;
                    double expected = LR * decay * w0[i];
                    assertEquals(expected, a[i] - d[i], 1e-6, l.name() + "[" + i + "]");
                }
                assertTrue(active > 0 && active < w0.length);
            }
            Map<String, float[]> denseAfterPlain = plain.denseState();
            Map<String, float[]> denseAfterDecayed = decayed.denseState();
            int checked = 0;
            for (String name : denseBefore.keySet()) {
                if (name.endsWith("runningMean") || name.endsWith("runningVar")) {
                    assertArrayEquals(denseAfterPlain.get(name), denseAfterDecayed.get(name), name + " is not a parameter");
                    continue;
                }
                for (int i = 0; i < denseBefore.get(name).length; i++) {
                    assertEquals(LR * decay * denseBefore.get(name)[i], denseAfterPlain.get(name)[i] - denseAfterDecayed.get(name)[i], 1e-6, name);
                    checked++;
                }
            }
            assertTrue(checked > 0);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_vgg", "nsconv_vgg"})
    void momentumCarriesTheFirstGradientIntoTheSecondStep(String architecture) {
        float[][] b = SmallVggCnnTest.batch();
        int[] labels = SmallVggCnnTest.labels(b[1]);
        float momentum = 0.9f;
        try (MaskedCnn plain = model(architecture).apply(13); MaskedCnn heavy = model(architecture).apply(13)) {
            SmallVggCnnTest.applyErkMasks(plain);
            SmallVggCnnTest.applyErkMasks(heavy);
            heavy.setOptimizer(momentum, 0);
            Map<String, float[]> w0 = sparseWeights(plain);
            plain.trainStep(b[0], labels, LR);
            heavy.trainStep(b[0], labels, LR);
            Map<String, float[]> w1 = sparseWeights(plain);
            for (String layer : w1.keySet()) {
                assertArrayEquals(w1.get(layer), heavy.weights(layer), layer + ": the first step has no history, so it is plain SGD");
            }
            plain.trainStep(b[0], labels, LR);
            heavy.trainStep(b[0], labels, LR);
            for (LayerShape l : plain.sparseLayers()) {
                float[] a = plain.weights(l.name());
                float[] h = heavy.weights(l.name());
                BitMask keep = plain.keepMask(l.name());
                for (int i = 0; i < a.length; i++) {
                    if (!keep.get(i)) {
                        assertEquals(0, Float.floatToRawIntBits(h[i]), l.name() + "[" + i + "] is inactive and must stay +0");
                        continue;
                    }
                    // w2 = w1 - lr (m g1 + g2) against w1 - lr g2, and lr g1 = w0 - w1
                    double expected = momentum * (w0.get(l.name())[i] - w1.get(l.name())[i]);
                    assertEquals(expected, a[i] - h[i], 1e-6, l.name() + "[" + i + "]");
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_vgg", "nsconv_vgg"})
    void inactiveWeightsStayExactlyZeroUnderMomentumAndDecayAcrossAMaskChange(String architecture) {
        float[][] b = SmallVggCnnTest.batch();
        int[] labels = SmallVggCnnTest.labels(b[1]);
        try (MaskedCnn cnn = model(architecture).apply(17)) {
            SmallVggCnnTest.applyErkMasks(cnn);
            cnn.setOptimizer(0.9, 5e-4);
            float first = cnn.trainStep(b[0], labels, 0.02f);
            for (int step = 0; step < 8; step++) {
                if (step == 4) {
                    // prune the first half of every layer's active weights, grow as many inactive ones
                    for (LayerShape l : cnn.sparseLayers()) {
                        BitMask keep = cnn.keepMask(l.name());
                        BitMask next = keep.copy();
                        long active = keep.cardinality();
                        long pruned = 0;
                        long grown = 0;
                        for (int i = 0; i < (int) keep.length(); i++) {
                            if (keep.get(i) && pruned < active / 2) {
                                next.set(i, false);
                                pruned++;
                            } else if (!keep.get(i) && grown < active / 2) {
                                next.set(i);
                                grown++;
                            }
                        }
                        cnn.setKeepMask(l.name(), next);
                    }
                }
                cnn.trainStep(b[0], labels, 0.02f);
                for (LayerShape l : cnn.sparseLayers()) {
                    float[] w = cnn.weights(l.name());
                    BitMask keep = cnn.keepMask(l.name());
                    for (int i = 0; i < w.length; i++) {
                        if (!keep.get(i)) {
                            assertEquals(0, Float.floatToRawIntBits(w[i]), l.name() + "[" + i + "] after step " + step);
                        } else {
                            assertTrue(Float.isFinite(w[i]), l.name() + "[" + i + "] is " + w[i]);
                        }
                    }
                }
            }
            float last = cnn.trainStep(b[0], labels, 0.02f);
            assertTrue(last < first, "loss " + first + " -> " + last);
        }
    }
}
