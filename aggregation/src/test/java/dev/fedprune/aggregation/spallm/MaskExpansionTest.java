package dev.fedprune.aggregation.spallm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MaskExpansionTest {

    static long[] setBits(BitMask mask) {
        List<Long> bits = new ArrayList<>();
        for (long i = 0; i < mask.length(); i++) {
            if (mask.get(i)) {
                bits.add(i);
            }
        }
        return bits.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void expandsLayerBelowTargetByPruneCountThenSmallestMagnitude() {
        // prune counts [0,1,3,2,1,3], weights [2,3,0,0,-1.5,0]; k = (int) (6 * 0.7) = 4
        L0Aggregate aggregate = L0NormAccumulatorTest.oracleFold().result();
        ExpandedTensor out = MaskExpansion.expand(aggregate, 2, 3, ComparisonGroup.LAYER, 0.7);
        // all-pruned 2 and 5, then 3 (count 2), then 4 over 1 (count 1 each, |-1.5| < |3|)
        assertArrayEquals(new long[] {2, 3, 4, 5}, setBits(out.pruneMask()));
        assertArrayEquals(new float[] {2f, 3f, 0f, 0f, 0f, 0f}, out.weights());
        assertEquals(4, out.targetPrunedCount());
        assertEquals(2, out.allPrunedCount());
        assertEquals(0, out.excessPrunedCount());
        assertEquals(0, out.groupsAboveTarget());
    }

    @Test
    void breaksMagnitudeTiesByLowestFlatIndex() {
        L0Aggregate aggregate = new L0Aggregate("t", 2, new int[] {1, 1, 1, 1}, new float[] {0.5f, -0.5f, 0.5f, 0.25f});
        ExpandedTensor out = MaskExpansion.expand(aggregate, 1, 4, ComparisonGroup.LAYER, 0.5);
        assertArrayEquals(new long[] {0, 3}, setBits(out.pruneMask()));
        assertArrayEquals(new float[] {0f, -0.5f, 0.5f, 0f}, out.weights());
    }

    /** 2x4, 2 agents: row 0 has three weights nobody kept, row 1 none. */
    static L0Aggregate twoRows() {
        return new L0Aggregate("t", 2, new int[] {0, 0, 0, 2, 2, 1, 1, 2},
                new float[] {0f, 0f, 0f, 7f, 1f, 0.5f, 0.25f, 2f});
    }

    @Test
    void rowGroupKeepsEveryAllPrunedWeightPrunedAboveTheTarget() {
        ExpandedTensor out = MaskExpansion.expand(twoRows(), 2, 4, ComparisonGroup.ROW, 0.5);
        // row 0: 3 all-pruned > k = 2, all stay pruned; row 1: the two weights one agent pruned
        assertArrayEquals(new long[] {0, 1, 2, 5, 6}, setBits(out.pruneMask()));
        assertArrayEquals(new float[] {0f, 0f, 0f, 7f, 1f, 0f, 0f, 2f}, out.weights());
        assertEquals(4, out.targetPrunedCount());
        assertEquals(5, out.prunedCount());
        assertEquals(1, out.excessPrunedCount());
        assertEquals(1, out.groupsAboveTarget());
    }

    @Test
    void layerGroupOverTheSameTensorMeetsTheTargetExactly() {
        ExpandedTensor out = MaskExpansion.expand(twoRows(), 2, 4, ComparisonGroup.LAYER, 0.5);
        // k = 4: the three all-pruned, then index 6 (|0.25| < |0.5|) among the two pruned once
        assertArrayEquals(new long[] {0, 1, 2, 6}, setBits(out.pruneMask()));
        assertEquals(0, out.excessPrunedCount());
    }

    @Test
    void everyAgentPruningEverythingPrunesEverythingAndReportsTheExcess() {
        L0Aggregate aggregate = new L0Aggregate("t", 3, new int[6], new float[6]);
        ExpandedTensor out = MaskExpansion.expand(aggregate, 2, 3, ComparisonGroup.ROW, 0.5);
        assertEquals(6, out.prunedCount());
        assertEquals(2, out.targetPrunedCount());
        assertEquals(4, out.excessPrunedCount());
        assertEquals(2, out.groupsAboveTarget());
    }

    @Test
    void zeroSparsityPrunesOnlyWhatNobodyKept() {
        ExpandedTensor out = MaskExpansion.expand(twoRows(), 2, 4, ComparisonGroup.LAYER, 0.0);
        assertArrayEquals(new long[] {0, 1, 2}, setBits(out.pruneMask()));
        assertEquals(0, out.targetPrunedCount());
    }

    @Test
    void rejectsShapeThatDoesNotMatchAndTensorNobodyContributed() {
        assertThrows(IllegalArgumentException.class, () -> MaskExpansion.expand(twoRows(), 3, 3, ComparisonGroup.ROW, 0.5));
        L0Aggregate empty = new L0NormAccumulator("t", 4).result();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MaskExpansion.expand(empty, 2, 2, ComparisonGroup.LAYER, 0.5));
        assertTrue(e.getMessage().contains("no agent contributed tensor t"), e.getMessage());
    }

    @Test
    void meetsTheTargetExactlyPerGroupWheneverAgentsPruneNoMoreThanIt() {
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 60; trial++) {
            int rows = 1 + random.nextInt(12);
            int cols = 1 + random.nextInt(70);
            int agents = 1 + random.nextInt(5);
            double target = random.nextDouble();
            ComparisonGroup group = ComparisonGroup.values()[trial % 3];
            List<SparseTensor> contributions = new ArrayList<>();
            for (int a = 0; a < agents; a++) {
                // agents prune at most the target, uniformly: some groups may still have more all-pruned
                contributions.add(L0NormAccumulatorTest.randomPruned(rows * cols, target * random.nextDouble(), random, false));
            }
            L0Aggregate aggregate = L0NormAccumulatorTest.foldInOrder(contributions, L0NormAccumulatorTest.identity(agents)).result();
            ExpandedTensor out = MaskExpansion.expand(aggregate, rows, cols, group, target);
            assertInvariants(aggregate, out, rows, cols, group, target);
        }
    }

    /** Per group: all-pruned pruned; exactly max(k, all-pruned) pruned; no kept weight ranks above a pruned one. */
    static void assertInvariants(L0Aggregate aggregate, ExpandedTensor out, int rows, int cols, ComparisonGroup group, double target) {
        int groups = switch (group) {
            case LAYER -> 1;
            case ROW -> rows;
            case COLUMN -> cols;
        };
        int n = rows * cols / groups;
        int k = (int) ((double) n * target);
        int stride = group == ComparisonGroup.COLUMN ? cols : 1;
        long excess = 0;
        for (int g = 0; g < groups; g++) {
            int start = switch (group) {
                case LAYER -> 0;
                case ROW -> g * cols;
                case COLUMN -> g;
            };
            int pruned = 0;
            int allPruned = 0;
            for (int t = 0; t < n; t++) {
                int j = start + t * stride;
                boolean isPruned = out.pruneMask().get(j);
                int prunes = aggregate.pruneCount(j);
                if (prunes == aggregate.agentCount()) {
                    allPruned++;
                    assertTrue(isPruned, "all-pruned weight " + j);
                }
                if (isPruned) {
                    pruned++;
                    assertEquals(0f, out.weights()[j]);
                    for (int u = 0; u < n; u++) {
                        int i = start + u * stride;
                        if (!out.pruneMask().get(i)) {
                            assertTrue(rankBefore(aggregate, j, i), "pruned " + j + " must rank before kept " + i);
                        }
                    }
                } else {
                    assertEquals(aggregate.weights()[j], out.weights()[j]);
                }
            }
            assertEquals(Math.max(k, allPruned), pruned, "group " + g);
            excess += pruned - k;
        }
        assertEquals(excess, out.excessPrunedCount());
    }

    /** (prune count desc, |W| asc, index asc): j is pruned before i. */
    static boolean rankBefore(L0Aggregate a, int j, int i) {
        if (a.pruneCount(j) != a.pruneCount(i)) {
            return a.pruneCount(j) > a.pruneCount(i);
        }
        int byMagnitude = Float.compare(Math.abs(a.weights()[j]), Math.abs(a.weights()[i]));
        return byMagnitude != 0 ? byMagnitude < 0 : j < i;
    }

    @Test
    void agentsWithRowMasksAtTheTargetNeverOvershootUnderRowGroups() {
        SplittableRandom random = new SplittableRandom(8);
        int rows = 6;
        int cols = 20;
        double target = 0.6;
        int k = (int) (cols * target);
        L0NormAccumulator acc = new L0NormAccumulator("t", rows * cols);
        for (int a = 0; a < 4; a++) {
            List<Integer> kept = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                List<Integer> columns = L0NormAccumulatorTest.identity(cols);
                Collections.shuffle(columns, new Random(random.nextLong()));
                for (int c : columns.subList(k, cols).stream().sorted().toList()) {
                    kept.add(r * cols + c); // exactly k pruned in every row, like a Wanda per-row mask
                }
            }
            int[] indices = kept.stream().mapToInt(Integer::intValue).toArray();
            float[] values = new float[indices.length];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextGaussian();
            }
            acc.fold("agent" + a, new SparseTensor(rows * cols, indices, values));
        }
        L0Aggregate aggregate = acc.result();
        ExpandedTensor out = MaskExpansion.expand(aggregate, rows, cols, ComparisonGroup.ROW, target);
        assertEquals(0, out.excessPrunedCount());
        assertEquals((long) rows * k, out.prunedCount());
        assertInvariants(aggregate, out, rows, cols, ComparisonGroup.ROW, target);
    }

    @Test
    void maskAndWeightsAreIdenticalWhateverTheFoldOrder() {
        SplittableRandom random = new SplittableRandom(21);
        List<SparseTensor> contributions = new ArrayList<>();
        for (int a = 0; a < 5; a++) {
            contributions.add(L0NormAccumulatorTest.randomPruned(8 * 30, 0.5, random, a % 2 == 0));
        }
        ExpandedTensor expected = MaskExpansion.expand(
                L0NormAccumulatorTest.foldInOrder(contributions, L0NormAccumulatorTest.identity(5)).result(), 8, 30, ComparisonGroup.LAYER, 0.6);
        Random shuffler = new Random(2);
        for (int trial = 0; trial < 10; trial++) {
            List<Integer> order = L0NormAccumulatorTest.identity(5);
            Collections.shuffle(order, shuffler);
            ExpandedTensor actual = MaskExpansion.expand(
                    L0NormAccumulatorTest.foldInOrder(contributions, order).result(), 8, 30, ComparisonGroup.LAYER, 0.6);
            assertEquals(expected.pruneMask(), actual.pruneMask());
            assertArrayEquals(expected.weights(), actual.weights());
        }
    }
}
