package dev.fedprune.aggregation.vote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Property tests of vote folding and selection over random contributions. */
class VoteSelectionPropertyTest {
    static final int ROWS = 24;
    static final int COLS = 40;

    static Map<String, long[]> shapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("a", new long[] {ROWS, COLS});
        shapes.put("b", new long[] {7, 67}); // not a multiple of 64: row and word boundaries disagree
        return shapes;
    }

    static List<Map<String, BitMask>> contributions(int agents, double sparsity, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Map<String, BitMask>> out = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            Map<String, BitMask> masks = new LinkedHashMap<>();
            shapes().forEach((name, s) -> masks.put(name, Masks.perRow((int) s[0], (int) s[1], (int) (s[1] * sparsity), random)));
            out.add(masks);
        }
        return out;
    }

    static VoteAccumulator fold(List<Map<String, BitMask>> contributions, List<Integer> order) {
        VoteAccumulator acc = new VoteAccumulator(shapes());
        for (int i : order) {
            acc.fold("agent" + i, contributions.get(i));
        }
        return acc;
    }

    static List<Integer> range(int n) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        return order;
    }

    @Test
    void votesCountEverySetBitOfEveryAgent() {
        List<Map<String, BitMask>> c = contributions(9, 0.5, 1);
        VoteAccumulator acc = fold(c, range(9));
        for (String t : shapes().keySet()) {
            int[] votes = acc.votes(t);
            for (int i = 0; i < votes.length; i++) {
                int expected = 0;
                for (Map<String, BitMask> m : c) {
                    expected += m.get(t).get(i) ? 1 : 0;
                }
                assertEquals(expected, votes[i], t + "[" + i + "]");
            }
        }
    }

    @Test
    void exactlyKArePrunedInEveryGroup() {
        VoteAccumulator acc = fold(contributions(11, 0.6, 2), range(11));
        for (double s : new double[] {0.0, 0.3, 0.5, 0.7, 0.95}) {
            for (String t : shapes().keySet()) {
                int rows = (int) shapes().get(t)[0];
                int cols = (int) shapes().get(t)[1];
                BitMask layer = acc.select(t, SelectionSpec.unstructured(ComparisonGroup.LAYER, s, 3));
                assertEquals((int) ((double) rows * cols * s), layer.cardinality(), "layer s=" + s);
                BitMask row = acc.select(t, SelectionSpec.unstructured(ComparisonGroup.ROW, s, 3));
                for (int r = 0; r < rows; r++) {
                    assertEquals((int) (cols * s), row.cardinality((long) r * cols, (long) (r + 1) * cols), "row " + r + " s=" + s);
                }
                BitMask column = acc.select(t, SelectionSpec.unstructured(ComparisonGroup.COLUMN, s, 3));
                for (int c = 0; c < cols; c++) {
                    int n = 0;
                    for (int r = 0; r < rows; r++) {
                        n += column.get((long) r * cols + c) ? 1 : 0;
                    }
                    assertEquals((int) (rows * s), n, "column " + c + " s=" + s);
                }
            }
        }
    }

    @Test
    void selectionPrunesOnlyWeightsWithAtLeastTheVotesOfAnyKeptWeight() {
        VoteAccumulator acc = fold(contributions(13, 0.5, 4), range(13));
        int[] votes = acc.votes("a");
        BitMask layer = acc.select("a", SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 9));
        int minPruned = Integer.MAX_VALUE;
        int maxKept = Integer.MIN_VALUE;
        for (int i = 0; i < votes.length; i++) {
            if (layer.get(i)) {
                minPruned = Math.min(minPruned, votes[i]);
            } else {
                maxKept = Math.max(maxKept, votes[i]);
            }
        }
        assertTrue(minPruned >= maxKept, "pruned " + minPruned + " < kept " + maxKept);
    }

    @Test
    void nmAggregationLeavesExactlyNPrunedInEveryBlockOfM() {
        VoteAccumulator acc = fold(contributions(6, 0.5, 5), range(6));
        for (int[] nm : new int[][] {{2, 4}, {4, 8}, {1, 4}, {3, 5}}) {
            SelectionSpec spec = new SelectionSpec(ComparisonGroup.ROW, 0.5, nm[0], nm[1], TieBreak.LOWEST_INDEX, 0);
            BitMask mask = acc.select("a", spec);
            int[] votes = acc.votes("a");
            for (int start = 0; start < ROWS * COLS; start += nm[1]) {
                assertEquals(nm[0], mask.cardinality(start, start + nm[1]), nm[0] + ":" + nm[1] + " block at " + start);
                int minPruned = Integer.MAX_VALUE;
                int maxKept = Integer.MIN_VALUE;
                for (int i = start; i < start + nm[1]; i++) {
                    if (mask.get(i)) {
                        minPruned = Math.min(minPruned, votes[i]);
                    } else {
                        maxKept = Math.max(maxKept, votes[i]);
                    }
                }
                assertTrue(minPruned >= maxKept, "block at " + start + " keeps a more-voted weight");
            }
        }
    }

    @Test
    void nmTiesGoToTheLowestIndexInTheBlock() {
        // One agent prunes nothing: all votes 0, so 2:4 prunes the first two of every block.
        VoteAccumulator acc = new VoteAccumulator(Map.of("t", new long[] {2, 8}));
        acc.fold("x", Map.of("t", new BitMask(16)));
        BitMask mask = acc.select("t", new SelectionSpec(ComparisonGroup.ROW, 0.5, 2, 4, TieBreak.SEEDED_RANDOM, 1));
        assertEquals(Masks.of(new int[][] {{1, 1, 0, 0, 1, 1, 0, 0}, {1, 1, 0, 0, 1, 1, 0, 0}}), mask);
    }

    @Test
    void permutingTheAgentsChangesNeitherVotesNorMasks() {
        List<Map<String, BitMask>> c = contributions(10, 0.5, 6);
        VoteAccumulator inOrder = fold(c, range(10));
        List<Integer> shuffled = range(10);
        Collections.shuffle(shuffled, new Random(3));
        VoteAccumulator permuted = fold(c, shuffled);
        for (String t : shapes().keySet()) {
            assertArrayEquals(inOrder.votes(t), permuted.votes(t));
            for (ComparisonGroup g : ComparisonGroup.values()) {
                SelectionSpec spec = SelectionSpec.unstructured(g, 0.5, 42);
                assertEquals(inOrder.select(t, spec), permuted.select(t, spec), t + " " + g);
            }
        }
    }

    @Test
    void sameSeedGivesTheSameMaskAndTheSeedDecidesTies() {
        VoteAccumulator acc = fold(contributions(4, 0.5, 7), range(4));
        SelectionSpec spec = SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 11);
        assertEquals(acc.select("a", spec), acc.select("a", spec));
        assertEquals(acc.select("a", spec), fold(contributions(4, 0.5, 7), range(4)).select("a", spec));
        // With 4 agents over 960 weights there are hundreds of ties at the threshold: another seed differs.
        assertNotEquals(acc.select("a", spec), acc.select("a", SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 12)));
    }

    @Test
    void bitSlicedSelectionMatchesTheReferenceSelectorOnDecodedVotes() {
        VoteAccumulator acc = fold(contributions(37, 0.55, 8), range(37));
        for (String t : shapes().keySet()) {
            int rows = (int) shapes().get(t)[0];
            int cols = (int) shapes().get(t)[1];
            for (ComparisonGroup g : ComparisonGroup.values()) {
                for (TieBreak tie : TieBreak.values()) {
                    for (double s : new double[] {0.2, 0.5, 0.8}) {
                        SelectionSpec spec = new SelectionSpec(g, s, 0, 0, tie, 5);
                        BitMask reference = MaskSelector.select(acc.votes(t), rows, cols, acc.totalWeight(), spec,
                                VoteAccumulator.tieSeed(spec, t));
                        assertEquals(reference, acc.select(t, spec), t + " " + g + " " + tie + " s=" + s);
                    }
                }
            }
        }
    }

    @Test
    void largeWeightedTotalsSelectLikeTheReferenceInEveryGroup() {
        // Totals past 65535 take the radix path of the reference and the decoded fallback of columns.
        Map<String, long[]> shape = Map.of("t", new long[] {9, 40});
        VoteAccumulator acc = new VoteAccumulator(shape);
        SplittableRandom random = new SplittableRandom(13);
        for (int a = 0; a < 12; a++) {
            acc.fold("agent" + a, Map.of("t", Masks.perRow(9, 40, 20, random)), 1 + random.nextInt(200_000));
        }
        assertTrue(acc.totalWeight() > 65_535);
        for (ComparisonGroup g : ComparisonGroup.values()) {
            for (TieBreak tie : TieBreak.values()) {
                SelectionSpec spec = new SelectionSpec(g, 0.5, 0, 0, tie, 3);
                BitMask reference = MaskSelector.select(acc.votes("t"), 9, 40, acc.totalWeight(), spec, VoteAccumulator.tieSeed(spec, "t"));
                assertEquals(reference, acc.select("t", spec), g + " " + tie);
            }
        }
        SelectionSpec nm = new SelectionSpec(ComparisonGroup.ROW, 0.5, 2, 4, TieBreak.LOWEST_INDEX, 0);
        assertEquals(MaskSelector.select(acc.votes("t"), 9, 40, acc.totalWeight(), nm, 0), acc.select("t", nm));
    }

    @Test
    void countsStayExactPastTheByteRangeAndPastThePreallocatedCapacity() {
        Map<String, long[]> shape = Map.of("t", new long[] {3, 50});
        VoteAccumulator small = new VoteAccumulator(shape, null, 3); // 2 planes preallocated, must grow
        SplittableRandom random = new SplittableRandom(9);
        int[] expected = new int[150];
        for (int a = 0; a < 300; a++) {
            BitMask m = Masks.random(150, 0.9, random);
            long weight = 1 + (a % 3);
            small.fold("agent" + a, Map.of("t", m), weight);
            for (int i = 0; i < 150; i++) {
                expected[i] += m.get(i) ? (int) weight : 0;
            }
        }
        assertArrayEquals(expected, small.votes("t"));
        assertEquals(600, small.totalWeight());
    }

    @Test
    void weightedVotesCountEachAgentBySampleCount() {
        Map<String, long[]> shape = Map.of("t", new long[] {1, 4});
        VoteAccumulator acc = new VoteAccumulator(shape);
        acc.fold("big", Map.of("t", Masks.of(new int[][] {{1, 1, 0, 0}})), 10);
        acc.fold("small1", Map.of("t", Masks.of(new int[][] {{0, 0, 1, 1}})), 1);
        acc.fold("small2", Map.of("t", Masks.of(new int[][] {{0, 0, 1, 1}})), 1);
        assertArrayEquals(new int[] {10, 10, 2, 2}, acc.votes("t"));
        assertEquals(Masks.of(new int[][] {{1, 1, 0, 0}}), acc.select("t", SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 0)));
        assertEquals(12, acc.totalWeight());
    }

    @Test
    void magnitudeMasksOnEveryAgentGiveTheCentralizedMask() {
        // O-9: identical (data-independent) masks on every agent make every vote 0 or m.
        SplittableRandom random = new SplittableRandom(10);
        for (ComparisonGroup g : ComparisonGroup.values()) {
            float[] w = new float[ROWS * COLS];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) random.nextGaussian();
            }
            BitMask centralized = magnitude(w, ROWS, COLS, g, 0.5);
            VoteAccumulator acc = new VoteAccumulator(Map.of("a", new long[] {ROWS, COLS}));
            for (int a = 0; a < 5; a++) {
                acc.fold("agent" + a, Map.of("a", centralized.copy()));
            }
            assertEquals(centralized, acc.select("a", SelectionSpec.unstructured(g, 0.5, a0())), g.name());
        }
    }

    @Test
    void oneAgentRowSelectionReturnsItsOwnMask() {
        // O-10: with m = 1, row aggregation of a per-row mask is that mask.
        BitMask own = Masks.perRow(ROWS, COLS, COLS / 2, new SplittableRandom(12));
        VoteAccumulator acc = new VoteAccumulator(Map.of("a", new long[] {ROWS, COLS}));
        acc.fold("only", Map.of("a", own));
        assertEquals(own, acc.select("a", SelectionSpec.unstructured(ComparisonGroup.ROW, 0.5, 0)));
        assertEquals(own, acc.select("a", SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 0)));
    }

    private static long a0() {
        return 77;
    }

    /** Centralized magnitude pruning, exact k smallest |w| per group, ties by lowest index. */
    static BitMask magnitude(float[] w, int rows, int cols, ComparisonGroup g, double s) {
        BitMask mask = new BitMask(w.length);
        List<int[]> groups = new ArrayList<>();
        switch (g) {
            case LAYER -> groups.add(range(w.length).stream().mapToInt(Integer::intValue).toArray());
            case ROW -> {
                for (int r = 0; r < rows; r++) {
                    int[] idx = new int[cols];
                    for (int c = 0; c < cols; c++) {
                        idx[c] = r * cols + c;
                    }
                    groups.add(idx);
                }
            }
            case COLUMN -> {
                for (int c = 0; c < cols; c++) {
                    int[] idx = new int[rows];
                    for (int r = 0; r < rows; r++) {
                        idx[r] = r * cols + c;
                    }
                    groups.add(idx);
                }
            }
        }
        for (int[] idx : groups) {
            Integer[] order = new Integer[idx.length];
            for (int i = 0; i < idx.length; i++) {
                order[i] = idx[i];
            }
            java.util.Arrays.sort(order, (x, y) -> Float.compare(Math.abs(w[x]), Math.abs(w[y])));
            int k = (int) (idx.length * s);
            for (int i = 0; i < k; i++) {
                mask.set(order[i]);
            }
        }
        return mask;
    }
}
