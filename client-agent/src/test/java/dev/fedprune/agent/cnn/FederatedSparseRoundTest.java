package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.ActiveWeightsCheck;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.BlockOrder;
import dev.fedprune.aggregation.sparsetrain.BlockPartition;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.PruneAndGrow;
import dev.fedprune.aggregation.sparsetrain.RoundMode;
import dev.fedprune.aggregation.sparsetrain.TopKGradientAggregator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One FedTiny adjustment round composed from the libraries, without the coordinator: two agents train
 * the masked CNN, upload active weights and top-K inactive gradients of the output block, the server
 * averages, prunes and grows; the new masks keep every layer's density and the agents keep inactive
 * weights at exactly 0 after installing them and training on.
 */
class FederatedSparseRoundTest {
    private static final CnnConfig TINY = new CnnConfig(1, 28, new int[] {4, 8}, 10);

    @Test
    void adjustmentRoundPreservesLayerDensitiesAndAgentsKeepInactiveWeightsZero() {
        float[][] b = SmallVggCnnTest.batch();
        int[] labels = SmallVggCnnTest.labels(b[1]);
        float[] half1 = java.util.Arrays.copyOfRange(b[0], 0, 8 * 784);
        float[] half2 = java.util.Arrays.copyOfRange(b[0], 8 * 784, 16 * 784);
        int[] labels1 = java.util.Arrays.copyOfRange(labels, 0, 8);
        int[] labels2 = java.util.Arrays.copyOfRange(labels, 8, 16);
        AdjustmentSchedule schedule = new AdjustmentSchedule(0.2, 1, 10, 2, BlockOrder.OUTPUT_TO_INPUT);
        int round = 1;
        assertEquals(RoundMode.ADJUSTMENT, schedule.mode(round));
        try (SmallVggCnn a1 = new SmallVggCnn(TINY, 9, Device.cpu()); SmallVggCnn a2 = new SmallVggCnn(TINY, 9, Device.cpu())) {
            SmallVggCnnTest.applyErkMasks(a1);
            SmallVggCnnTest.applyErkMasks(a2);
            List<LayerShape> layers = a1.sparseLayers();
            Map<String, BitMask> keep = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (LayerShape l : layers) {
                keep.put(l.name(), a1.keepMask(l.name()));
                shapes.put(l.name(), new long[] {l.weightCount()});
            }
            List<Integer> block = BlockPartition.balanced(layers, 2).get(schedule.block(round));
            Map<String, Integer> k = new LinkedHashMap<>();
            for (int i : block) {
                String name = layers.get(i).name();
                int active = (int) keep.get(name).cardinality();
                k.put(name, schedule.adjustCount(round, active, layers.get(i).weightCount() - active));
            }
            assertTrue(k.values().stream().allMatch(v -> v > 0), k.toString());

            SparseFedAvg weights = new SparseFedAvg(shapes);
            TopKGradientAggregator gradients = new TopKGradientAggregator(
                    Map.copyOf(keep.entrySet().stream().filter(e -> k.containsKey(e.getKey()))
                            .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))), k);
            Object[][] agents = {{"a1", a1, half1, labels1}, {"a2", a2, half2, labels2}};
            for (Object[] agent : agents) {
                SmallVggCnn cnn = (SmallVggCnn) agent[1];
                float[] x = (float[]) agent[2];
                int[] y = (int[]) agent[3];
                cnn.trainStep(x, y, 0.1f);
                cnn.trainStep(x, y, 0.1f);
                Map<String, SparseTensor> upload = new LinkedHashMap<>();
                for (LayerShape l : layers) {
                    upload.put(l.name(), SparseTensor.ofDense(cnn.weights(l.name())));
                }
                ActiveWeightsCheck.check(upload, keep);
                weights.fold((String) agent[0], y.length, upload);
                gradients.fold((String) agent[0], y.length, cnn.topKInactiveGradients(x, y, k));
            }

            Map<String, float[]> newWeights = new LinkedHashMap<>();
            Map<String, BitMask> newKeep = new LinkedHashMap<>();
            for (LayerShape l : layers) {
                float[] avg = weights.average(l.name());
                if (k.containsKey(l.name())) {
                    PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(avg, keep.get(l.name()), gradients.aggregated(l.name()),
                            k.get(l.name()), PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED);
                    assertEquals(keep.get(l.name()).cardinality(), r.keep().cardinality(), "density of " + l.name());
                    assertTrue(r.keep().hammingDistance(keep.get(l.name())) > 0, l.name() + " mask changed");
                    newKeep.put(l.name(), r.keep());
                    newWeights.put(l.name(), r.weights());
                } else {
                    newKeep.put(l.name(), keep.get(l.name()));
                    newWeights.put(l.name(), avg);
                }
            }
            // Mask-sync round: agent 1 installs the new mask and weights and trains on.
            for (LayerShape l : layers) {
                a1.setKeepMask(l.name(), newKeep.get(l.name()));
                a1.setWeights(l.name(), newWeights.get(l.name()));
                assertArrayEquals(newWeights.get(l.name()), a1.weights(l.name()));
            }
            a1.setDenseState(a2.denseState());
            a1.trainStep(half1, labels1, 0.1f);
            for (LayerShape l : layers) {
                float[] w = a1.weights(l.name());
                for (int i = 0; i < w.length; i++) {
                    if (!newKeep.get(l.name()).get(i)) {
                        assertEquals(0, Float.floatToRawIntBits(w[i]), l.name() + "[" + i + "]");
                    }
                }
            }
        }
    }
}
