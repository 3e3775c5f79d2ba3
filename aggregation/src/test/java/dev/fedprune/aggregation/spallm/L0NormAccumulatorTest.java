package dev.fedprune.aggregation.spallm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class L0NormAccumulatorTest {

    static SparseTensor sparse(int size, int[] indices, float[] values) {
        return new SparseTensor(size, indices, values);
    }

    /** 2x3 tensor, 3 agents; agent A keeps index 3 with the value 0.0. */
    static L0NormAccumulator oracleFold() {
        L0NormAccumulator acc = new L0NormAccumulator("q", 6);
        acc.fold("A", sparse(6, new int[] {0, 1, 3}, new float[] {1f, 2f, 0f}));
        acc.fold("B", sparse(6, new int[] {0, 4}, new float[] {3f, -1f}));
        acc.fold("C", sparse(6, new int[] {0, 1, 4}, new float[] {2f, 4f, -2f}));
        return acc;
    }

    @Test
    void averagesOnlyOverTheAgentsThatKeptEachWeight() {
        L0Aggregate result = oracleFold().result();
        assertEquals(3, result.agentCount());
        assertArrayEquals(new int[] {3, 2, 0, 1, 2, 0}, result.keepCounts());
        // (1+3+2)/3, (2+4)/2, nobody, 0/1, (-1-2)/2, nobody
        assertArrayEquals(new float[] {2f, 3f, 0f, 0f, -1.5f, 0f}, result.weights());
        assertEquals(0, result.pruneCount(0));
        assertEquals(3, result.pruneCount(2));
    }

    @Test
    void keptZeroCountsAsKeptNotAsPruned() {
        L0NormAccumulator acc = new L0NormAccumulator("q", 2);
        acc.fold("A", sparse(2, new int[] {0}, new float[] {0f}));
        acc.fold("B", sparse(2, new int[] {0}, new float[] {4f}));
        L0Aggregate result = acc.result();
        assertArrayEquals(new int[] {2, 0}, result.keepCounts());
        assertArrayEquals(new float[] {2f, 0f}, result.weights(), "mean of 0 and 4, not 4 alone");
    }

    @Test
    void agentThatKeptNothingCountsAsPruningEverything() {
        L0NormAccumulator acc = oracleFold();
        acc.fold("D", sparse(6, new int[0], new float[0]));
        L0Aggregate result = acc.result();
        assertEquals(4, result.agentCount());
        assertArrayEquals(new int[] {3, 2, 0, 1, 2, 0}, result.keepCounts());
        assertArrayEquals(new float[] {2f, 3f, 0f, 0f, -1.5f, 0f}, result.weights());
        assertEquals(4, result.pruneCount(2));
    }

    @Test
    void rejectsTensorOfWrongSizeNamingTheField() {
        L0NormAccumulator acc = oracleFold();
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> acc.fold("D", sparse(7, new int[] {0}, new float[] {1f})));
        assertEquals("pruned[q].size", e.field());
        assertTrue(e.getMessage().contains("agent D sent 7 weights, the tensor has 6"), e.getMessage());
        assertUnchanged(acc);
    }

    @Test
    void rejectsUnsortedIndicesNonFiniteValuesAndRepeatedAgentsLeavingTheSumsUnchanged() {
        L0NormAccumulator acc = oracleFold();
        InvalidContributionException unsorted = assertThrows(InvalidContributionException.class,
                () -> acc.fold("D", sparse(6, new int[] {3, 1}, new float[] {1f, 1f})));
        assertEquals("pruned[q]", unsorted.field());
        InvalidContributionException nan = assertThrows(InvalidContributionException.class,
                () -> acc.fold("D", sparse(6, new int[] {1}, new float[] {Float.NaN})));
        assertTrue(nan.getMessage().contains("not finite"), nan.getMessage());
        InvalidContributionException repeated = assertThrows(InvalidContributionException.class,
                () -> acc.fold("B", sparse(6, new int[] {2}, new float[] {1f})));
        assertEquals("agent", repeated.field());
        assertUnchanged(acc);
    }

    private static void assertUnchanged(L0NormAccumulator acc) {
        L0Aggregate result = acc.result();
        assertEquals(3, result.agentCount());
        assertArrayEquals(new int[] {3, 2, 0, 1, 2, 0}, result.keepCounts());
        assertArrayEquals(new float[] {2f, 3f, 0f, 0f, -1.5f, 0f}, result.weights());
    }

    @Test
    void sumThatWouldRoundInDoubleIsKeptExact() {
        float big = 0x1p60f;
        float[][] orders = {{big, 1f, -big}, {big, -big, 1f}, {1f, big, -big}};
        for (float[] order : orders) {
            L0NormAccumulator acc = new L0NormAccumulator("q", 1);
            for (int a = 0; a < order.length; a++) {
                acc.fold("agent" + a, sparse(1, new int[] {0}, new float[] {order[a]}));
            }
            // exact sum 1 over 3 agents; a plain double sum gives 0 in two of the three orders
            assertEquals((float) (1.0 / 3), acc.result().weights()[0]);
        }
    }

    @Test
    void resultIsBitIdenticalWhateverTheFoldOrder() {
        int size = 500;
        int agents = 7;
        SplittableRandom random = new SplittableRandom(11);
        List<SparseTensor> contributions = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            contributions.add(randomPruned(size, 0.4 + 0.1 * (a % 3), random, a % 2 == 0));
        }
        L0NormAccumulator reference = foldInOrder(contributions, identity(agents));
        assertTrue(reference.exactSpillCount() > 0, "the wide-range values must exercise the exact path");
        L0Aggregate expected = reference.result();
        assertArrayEquals(exactMeans(contributions, size), expected.weights());
        Random shuffler = new Random(5);
        for (int trial = 0; trial < 20; trial++) {
            List<Integer> order = identity(agents);
            Collections.shuffle(order, shuffler);
            L0Aggregate actual = foldInOrder(contributions, order).result();
            assertArrayEquals(expected.keepCounts(), actual.keepCounts());
            for (int j = 0; j < size; j++) {
                assertEquals(Float.floatToRawIntBits(expected.weights()[j]), Float.floatToRawIntBits(actual.weights()[j]),
                        "weight " + j + " in order " + order);
            }
        }
    }

    /** Keeps about (1 - sparsity) of the weights; wide values span 1e-30 to 1e30 so double sums round. */
    static SparseTensor randomPruned(int size, double sparsity, SplittableRandom random, boolean wide) {
        float[] dense = new float[size];
        List<Integer> kept = new ArrayList<>();
        for (int j = 0; j < size; j++) {
            if (random.nextDouble() >= sparsity) {
                kept.add(j);
            }
        }
        int[] indices = kept.stream().mapToInt(Integer::intValue).toArray();
        float[] values = new float[indices.length];
        for (int i = 0; i < indices.length; i++) {
            double magnitude = wide ? Math.pow(10, random.nextInt(-30, 31)) : 1;
            values[i] = (float) (random.nextGaussian() * magnitude);
            dense[indices[i]] = values[i];
        }
        return new SparseTensor(size, indices, values);
    }

    static L0NormAccumulator foldInOrder(List<SparseTensor> contributions, List<Integer> order) {
        L0NormAccumulator acc = new L0NormAccumulator("t", contributions.get(0).size());
        for (int a : order) {
            acc.fold("agent" + a, contributions.get(a));
        }
        return acc;
    }

    static List<Integer> identity(int n) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        return order;
    }

    /** The documented function of the exact sum: (float) (double(S) / count). */
    static float[] exactMeans(List<SparseTensor> contributions, int size) {
        BigDecimal[] sums = new BigDecimal[size];
        int[] counts = new int[size];
        for (SparseTensor t : contributions) {
            for (int i = 0; i < t.indices().length; i++) {
                int j = t.indices()[i];
                sums[j] = (sums[j] == null ? BigDecimal.ZERO : sums[j]).add(new BigDecimal(t.values()[i]), MathContext.UNLIMITED);
                counts[j]++;
            }
        }
        float[] out = new float[size];
        for (int j = 0; j < size; j++) {
            if (counts[j] > 0) {
                out[j] = (float) (sums[j].doubleValue() / counts[j]);
            }
        }
        return out;
    }
}
