package dev.fedprune.aggregation.robust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RobustFedAvgTest {
    static final RobustFedAvg.Options PLAIN = RobustFedAvg.Options.plain();

    /** One tensor "w" of the given values per agent (all coordinates sent), from a zero start. */
    static RobustFedAvg.Result run(RobustFedAvg.Options options, float[][] values, long[] samples) {
        RobustFedAvg avg = new RobustFedAvg(Map.of("w", new float[values[0].length]), options);
        for (int a = 0; a < values.length; a++) {
            avg.fold("agent-" + a, samples[a], Map.of("w", SparseTensor.ofDense(values[a])));
        }
        return avg.aggregate();
    }

    @Test
    void withoutDefencesItIsSparseFedAvgBitForBit() {
        SplittableRandom random = new SplittableRandom(7);
        Map<String, long[]> shapes = Map.of("a", new long[] {40}, "b", new long[] {3, 7});
        Map<String, float[]> start = Map.of("a", new float[40], "b", new float[21]);
        SparseFedAvg reference = new SparseFedAvg(shapes);
        RobustFedAvg robust = new RobustFedAvg(start, PLAIN);
        for (int k = 0; k < 6; k++) {
            Map<String, SparseTensor> update = new LinkedHashMap<>();
            for (Map.Entry<String, float[]> e : start.entrySet()) {
                List<Integer> idx = new ArrayList<>();
                for (int i = 0; i < e.getValue().length; i++) {
                    if (random.nextDouble() < 0.6) {
                        idx.add(i);
                    }
                }
                float[] v = new float[idx.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) random.nextGaussian();
                }
                update.put(e.getKey(), new SparseTensor(e.getValue().length, idx.stream().mapToInt(Integer::intValue).toArray(), v));
            }
            long samples = 1 + random.nextInt(500);
            reference.fold("agent-" + k, samples, update);
            robust.fold("agent-" + k, samples, update);
        }
        RobustFedAvg.Result result = robust.aggregate();
        assertArrayEquals(reference.average("a"), result.model().get("a"));
        assertArrayEquals(reference.average("b"), result.model().get("b"));
        assertEquals(List.of(), result.report().capped());
        assertEquals(List.of(), result.report().clipped());
    }

    @Test
    void trimmedMeanDropsTheExtremesOfEveryCoordinate() {
        float[][] values = {{1, -50}, {2, 1}, {3, 2}, {4, 3}, {100, 4}};
        RobustFedAvg.Result r = run(new RobustFedAvg.Options(RobustFedAvg.Rule.TRIMMED_MEAN, 0.2, 0, 0), values, new long[] {1, 1, 1, 1, 1});
        assertArrayEquals(new float[] {3, 2}, r.model().get("w"));
        // Weighted: the kept agents' weights still count.
        r = run(new RobustFedAvg.Options(RobustFedAvg.Rule.TRIMMED_MEAN, 0.2, 0, 0), values, new long[] {1, 1, 2, 1, 1});
        assertArrayEquals(new float[] {(2 + 6 + 4) / 4f, (1 + 4 + 3) / 4f}, r.model().get("w"));
    }

    @Test
    void weightedMedianOfEveryCoordinate() {
        assertArrayEquals(new float[] {3}, run(new RobustFedAvg.Options(RobustFedAvg.Rule.MEDIAN, 0, 0, 0),
                new float[][] {{1}, {2}, {3}}, new long[] {1, 1, 5}).model().get("w"));
        assertArrayEquals(new float[] {2.5f}, run(new RobustFedAvg.Options(RobustFedAvg.Rule.MEDIAN, 0, 0, 0),
                new float[][] {{4}, {1}, {3}, {2}}, new long[] {1, 1, 1, 1}).model().get("w"));
        assertArrayEquals(new float[] {2}, run(new RobustFedAvg.Options(RobustFedAvg.Rule.MEDIAN, 0, 0, 0),
                new float[][] {{-7}, {2}, {1000}}, new long[] {1, 1, 1}).model().get("w"));
    }

    @Test
    void updatesAreClippedToTheNormAroundTheStartingModel() {
        RobustFedAvg avg = new RobustFedAvg(Map.of("w", new float[] {1, 1}), new RobustFedAvg.Options(RobustFedAvg.Rule.MEAN, 0, 1.0, 0));
        avg.fold("small", 1, Map.of("w", SparseTensor.ofDense(new float[] {1.3f, 1.4f})));   // |update| = 0.5
        avg.fold("large", 1, Map.of("w", SparseTensor.ofDense(new float[] {7, 9})));          // |update| = 10
        RobustFedAvg.Result r = avg.aggregate();
        assertEquals(List.of("large"), r.report().clipped());
        assertEquals(10.0, r.report().updateNorms().get("large"), 1e-9);
        // large becomes (1 + 0.6, 1 + 0.8); the mean with small:
        assertArrayEquals(new float[] {(1.3f + 1.6f) / 2, (1.4f + 1.8f) / 2}, r.model().get("w"), 1e-6f);
    }

    @Test
    void noAgentWeighsMoreThanTheCapTimesTheMedianReport() {
        RobustFedAvg.Result r = run(new RobustFedAvg.Options(RobustFedAvg.Rule.MEAN, 0, 0, 2), new float[][] {{0}, {0}, {0}, {1}},
                new long[] {10, 10, 10, 1_000_000});
        assertEquals(Map.of("agent-0", 10L, "agent-1", 10L, "agent-2", 10L, "agent-3", 20L), r.report().weights());
        assertEquals(List.of("agent-3"), r.report().capped());
        assertArrayEquals(new float[] {20f / 50}, r.model().get("w"));
    }

    @Test
    void theMedianHoldsAgainstAScaledSignFlippedMinority() {
        SplittableRandom random = new SplittableRandom(3);
        int agents = 10;
        float[][] values = new float[agents][50];
        for (int a = 0; a < agents; a++) {
            for (int j = 0; j < 50; j++) {
                float honest = (float) (1 + 0.05 * random.nextGaussian());
                values[a][j] = a < 3 ? -100 * honest : honest;   // 30% malicious
            }
        }
        long[] samples = new long[agents];
        java.util.Arrays.fill(samples, 1);
        float[] mean = run(PLAIN, values, samples).model().get("w");
        float[] median = run(new RobustFedAvg.Options(RobustFedAvg.Rule.MEDIAN, 0, 0, 0), values, samples).model().get("w");
        float[] trimmed = run(new RobustFedAvg.Options(RobustFedAvg.Rule.TRIMMED_MEAN, 0.3, 0, 0), values, samples).model().get("w");
        for (int j = 0; j < 50; j++) {
            assertTrue(mean[j] < -20, "the plain mean is dragged far off: " + mean[j]);
            assertEquals(1, median[j], 0.2);
            assertEquals(1, trimmed[j], 0.2);
        }
    }

    @Test
    void refusesWhatFedAvgRefuses() {
        RobustFedAvg avg = new RobustFedAvg(Map.of("w", new float[4]), PLAIN);
        assertEquals("sample_count", assertThrows(InvalidContributionException.class,
                () -> avg.fold("a", 0, Map.of("w", SparseTensor.ofDense(new float[4])))).field());
        assertEquals("updates[w]", assertThrows(InvalidContributionException.class,
                () -> avg.fold("a", 1, Map.of("w", SparseTensor.ofDense(new float[5])))).field());
        assertEquals("updates[w]", assertThrows(InvalidContributionException.class,
                () -> avg.fold("a", 1, Map.of("w", SparseTensor.ofDense(new float[] {0, Float.NaN, 0, 0})))).field());
        avg.fold("a", 1, Map.of("w", SparseTensor.ofDense(new float[4])));
        assertEquals("agent", assertThrows(InvalidContributionException.class,
                () -> avg.fold("a", 1, Map.of("w", SparseTensor.ofDense(new float[4])))).field());
        assertThrows(IllegalArgumentException.class, () -> new RobustFedAvg.Options(RobustFedAvg.Rule.TRIMMED_MEAN, 0.5, 0, 0));
    }
}
