package dev.fedprune.aggregation.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SparseFedAvgTest {

    @Test
    void o13WeightsTopKGradientsBySampleCountWithMissingCoordinatesAsZero() {
        SparseFedAvg avg = new SparseFedAvg(Map.of("layer", new long[] {8}));
        avg.fold("client1", 100, Map.of("layer", new SparseTensor(8, new int[] {2, 4}, new float[] {-0.8f, 0.3f})));
        avg.fold("client2", 300, Map.of("layer", new SparseTensor(8, new int[] {2, 7}, new float[] {0.4f, -0.9f})));
        float[] g = avg.average("layer");
        assertEquals(0.1f, g[2], 1e-6f);
        assertEquals(0.075f, g[4], 1e-6f);
        assertEquals(-0.675f, g[7], 1e-6f);
        assertEquals(0f, g[0]);
        SparseTensor sparse = avg.averageSparse("layer");
        assertArrayEquals(new int[] {2, 4, 7}, sparse.indices());
        // grow K = 2 by |g|: 7 then 2; the signed sum nearly cancels index 2 but it still beats 4.
        Integer[] order = {0, 1, 2};
        Arrays.sort(order, (a, b) -> Float.compare(Math.abs(sparse.values()[b]), Math.abs(sparse.values()[a])));
        assertEquals(7, sparse.indices()[order[0]]);
        assertEquals(2, sparse.indices()[order[1]]);
    }

    @Test
    void agentsWithDifferentMasksAverageToTheDenseFedAvgOfTheirZeroFilledTensors() {
        SplittableRandom random = new SplittableRandom(1);
        int size = 500;
        SparseFedAvg avg = new SparseFedAvg(Map.of("w", new long[] {20, 25}));
        double[] expected = new double[size];
        long n = 0;
        for (int a = 0; a < 6; a++) {
            float[] dense = new float[size];
            for (int i = 0; i < size; i++) {
                if (random.nextDouble() < 0.3) {
                    dense[i] = (float) random.nextGaussian();
                }
            }
            long samples = 1 + random.nextInt(50);
            avg.fold("a" + a, samples, Map.of("w", SparseTensor.ofDense(dense)));
            for (int i = 0; i < size; i++) {
                expected[i] += samples * (double) dense[i];
            }
            n += samples;
        }
        float[] got = avg.average("w");
        for (int i = 0; i < size; i++) {
            assertEquals(expected[i] / n, got[i], 1e-6);
        }
        assertEquals(n, avg.totalSamples());
    }

    @Test
    void agentOmittingATensorCountsAsZeroThere() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("a", new long[] {2});
        shapes.put("b", new long[] {2});
        SparseFedAvg avg = new SparseFedAvg(shapes);
        avg.fold("x", 1, Map.of("a", new SparseTensor(2, new int[] {0}, new float[] {4}), "b", new SparseTensor(2, new int[] {1}, new float[] {2})));
        avg.fold("y", 1, Map.of("a", new SparseTensor(2, new int[] {0}, new float[] {2})));
        assertArrayEquals(new float[] {3, 0}, avg.average("a"));
        assertArrayEquals(new float[] {0, 1}, avg.average("b"));
    }

    static SparseFedAvg withOne() {
        SparseFedAvg avg = new SparseFedAvg(Map.of("w", new long[] {4, 4}));
        avg.fold("first", 10, Map.of("w", new SparseTensor(16, new int[] {1, 5}, new float[] {1, 2})));
        return avg;
    }

    static void assertRejectedUnchanged(String agent, long samples, Map<String, SparseTensor> update, String fragment) {
        SparseFedAvg avg = withOne();
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> avg.fold(agent, samples, update));
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
        SparseFedAvg reference = withOne();
        assertArrayEquals(reference.average("w"), avg.average("w"));
        assertEquals(reference.totalSamples(), avg.totalSamples());
        assertEquals(reference.agents(), avg.agents());
    }

    @Test
    void rejectsNanAndInfiniteValuesUnchanged() {
        assertRejectedUnchanged("x", 1, Map.of("w", new SparseTensor(16, new int[] {0, 3}, new float[] {1, Float.NaN})), "value NaN at index 3");
        assertRejectedUnchanged("x", 1, Map.of("w", new SparseTensor(16, new int[] {0}, new float[] {Float.NEGATIVE_INFINITY})), "-Infinity");
    }

    @Test
    void rejectsUnsortedAndOutOfRangeIndicesUnchanged() {
        assertRejectedUnchanged("x", 1, Map.of("w", new SparseTensor(16, new int[] {3, 3}, new float[] {1, 1})), "strictly ascending");
        assertRejectedUnchanged("x", 1, Map.of("w", new SparseTensor(16, new int[] {16}, new float[] {1})), "out of range [0, 16)");
    }

    @Test
    void rejectsUnknownTensorWrongSizeDuplicateAgentAndBadSampleCountUnchanged() {
        assertRejectedUnchanged("x", 1, Map.of("v", new SparseTensor(16, new int[0], new float[0])), "unknown tensor 'v'");
        assertRejectedUnchanged("x", 1, Map.of("w", new SparseTensor(15, new int[0], new float[0])), "size 15, expected 16");
        assertRejectedUnchanged("first", 1, Map.of("w", new SparseTensor(16, new int[0], new float[0])), "already contributed");
        assertRejectedUnchanged("x", 0, Map.of("w", new SparseTensor(16, new int[0], new float[0])), "at least 1 sample");
    }
}
