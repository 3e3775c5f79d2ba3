package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TopKGradientTest {
    /** O-13: 8 weights, inactive {2, 4, 7}. */
    private final BitMask keep = PruneAndGrowTest.keep(1, 1, 0, 1, 0, 1, 1, 0);

    @Test
    void o13AgentsUploadTheirTopKInactiveGradientsSigned() {
        SparseTensor client1 = TopKGradientBuffer.select(new float[] {9, 9, -0.8f, 9, 0.3f, 9, 9, -0.1f}, keep, 2);
        SparseTensor client2 = TopKGradientBuffer.select(new float[] {9, 9, 0.4f, 9, 0.1f, 9, 9, -0.9f}, keep, 2);
        assertEquals(new SparseTensor(8, new int[] {2, 4}, new float[] {-0.8f, 0.3f}), client1);
        assertEquals(new SparseTensor(8, new int[] {2, 7}, new float[] {0.4f, -0.9f}), client2);
    }

    @Test
    void o13WeightedAggregationOfTopKUploadsAndGrowth() {
        TopKGradientAggregator agg = new TopKGradientAggregator(Map.of("layer", keep), Map.of("layer", 2));
        agg.fold("client1", 100, Map.of("layer", new SparseTensor(8, new int[] {2, 4}, new float[] {-0.8f, 0.3f})));
        agg.fold("client2", 300, Map.of("layer", new SparseTensor(8, new int[] {2, 7}, new float[] {0.4f, -0.9f})));
        SparseTensor g = agg.aggregated("layer");
        assertArrayEquals(new int[] {2, 4, 7}, g.indices());
        assertEquals(0.1f, g.values()[0], 1e-6f);
        assertEquals(0.075f, g.values()[1], 1e-6f);
        assertEquals(-0.675f, g.values()[2], 1e-6f);
        float[] theta = {0.9f, -0.05f, 0f, 0.3f, 0f, -0.7f, 0.02f, 0f};
        PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(theta, keep, g, 2, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED);
        assertArrayEquals(new int[] {2, 7}, r.grown());
    }

    @Test
    void aggregateDoesNotDependOnTheOrderOfAgents() {
        SplittableRandom random = new SplittableRandom(11);
        int n = 200;
        BitMask mask = new BitMask(n);
        for (int i = 0; i < n; i++) {
            if (random.nextDouble() < 0.2) {
                mask.set(i);
            }
        }
        List<SparseTensor> uploads = new ArrayList<>();
        List<Long> samples = new ArrayList<>();
        for (int a = 0; a < 7; a++) {
            float[] grad = new float[n];
            for (int i = 0; i < n; i++) {
                grad[i] = (float) random.nextGaussian();
            }
            uploads.add(TopKGradientBuffer.select(grad, mask, 15));
            samples.add(1L + random.nextInt(100));
        }
        SparseTensor reference = null;
        List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6));
        for (int p = 0; p < 5; p++) {
            Collections.shuffle(order, new java.util.Random(p));
            TopKGradientAggregator agg = new TopKGradientAggregator(Map.of("w", mask), Map.of("w", 15));
            for (int a : order) {
                agg.fold("a" + a, samples.get(a), Map.of("w", uploads.get(a)));
            }
            SparseTensor g = agg.aggregated("w");
            if (reference == null) {
                reference = g;
            }
            assertArrayEquals(reference.indices(), g.indices());
            assertArrayEquals(reference.values(), g.values(), 1e-6f);
        }
    }

    @Test
    void bufferKeepsTheLargestMagnitudesWithLowestIndexTiesLikeAFullSort() {
        SplittableRandom random = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(100);
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                g[i] = (random.nextInt(7) - 3) * 0.5f; // many ties, signed
            }
            int k = random.nextInt(n + 1);
            BitMask none = new BitMask(n);
            SparseTensor top = TopKGradientBuffer.select(g, none, k);
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Math.abs(g[a]) != Math.abs(g[b]) ? Float.compare(Math.abs(g[b]), Math.abs(g[a])) : Integer.compare(a, b));
            int[] expected = new int[k];
            for (int i = 0; i < k; i++) {
                expected[i] = order[i];
            }
            java.util.Arrays.sort(expected);
            assertArrayEquals(expected, top.indices());
            for (int i = 0; i < k; i++) {
                assertEquals(g[top.indices()[i]], top.values()[i]);
            }
        }
        assertEquals(80, new TopKGradientBuffer(10).heldBytes());
    }

    @Test
    void rejectsIndexAtAnActiveWeightNamingTheField() {
        TopKGradientAggregator agg = new TopKGradientAggregator(Map.of("layer", keep), Map.of("layer", 2));
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> agg.fold("c", 10, Map.of("layer", new SparseTensor(8, new int[] {2, 3}, new float[] {1, 1}))));
        assertEquals("gradients[layer]", e.field());
        assertTrue(e.getMessage().contains("index 3"), e.getMessage());
        assertEquals(0, agg.agentCount());
    }

    @Test
    void rejectsTooManyEntriesOutOfRangeNonFiniteMissingOrUnknownLayers() {
        TopKGradientAggregator agg = new TopKGradientAggregator(Map.of("layer", keep), Map.of("layer", 2));
        assertThrows(InvalidContributionException.class,
                () -> agg.fold("c", 10, Map.of("layer", new SparseTensor(8, new int[] {2, 4, 7}, new float[] {1, 1, 1}))));
        assertThrows(InvalidContributionException.class,
                () -> agg.fold("c", 10, Map.of("layer", new SparseTensor(9, new int[] {8}, new float[] {1}))));
        assertThrows(InvalidContributionException.class,
                () -> agg.fold("c", 10, Map.of("layer", new SparseTensor(8, new int[] {2}, new float[] {Float.NaN}))));
        assertThrows(InvalidContributionException.class, () -> agg.fold("c", 10, Map.of()));
        assertThrows(InvalidContributionException.class, () -> agg.fold("c", 10,
                Map.of("layer", new SparseTensor(8, new int[] {2}, new float[] {1}), "other", new SparseTensor(8, new int[] {}, new float[] {}))));
        assertThrows(InvalidContributionException.class,
                () -> agg.fold("c", 0, Map.of("layer", new SparseTensor(8, new int[] {2}, new float[] {1}))));
        assertEquals(0, agg.agentCount());
    }
}
