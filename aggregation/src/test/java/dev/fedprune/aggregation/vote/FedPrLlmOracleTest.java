package dev.fedprune.aggregation.vote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The FedPrLLM oracles of algorithms.md section 5: O-5, O-6, O-7. */
class FedPrLlmOracleTest {
    static final String T = "w";
    static final Map<String, long[]> SHAPE = Map.of(T, new long[] {4, 4});
    static final int[][] P_A = {{1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}};
    static final int[][] P_B = {{1, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 1, 0}, {1, 0, 1, 0}};
    static final int[][] P_C = {{1, 1, 0, 0}, {1, 0, 1, 0}, {1, 0, 0, 1}, {0, 1, 0, 1}};

    static VoteAccumulator o5() {
        VoteAccumulator acc = new VoteAccumulator(SHAPE);
        acc.fold("A", Map.of(T, Masks.of(P_A)));
        acc.fold("B", Map.of(T, Masks.of(P_B)));
        acc.fold("C", Map.of(T, Masks.of(P_C)));
        return acc;
    }

    @Test
    void o5VotesAreTheSumOfTheThreeMasks() {
        assertArrayEquals(Masks.flat(new int[][] {{3, 3, 0, 0}, {2, 2, 2, 0}, {3, 1, 1, 1}, {2, 2, 1, 1}}), o5().votes(T));
    }

    @Test
    void o5LayerGroupRemovesTheEightMostVoted() {
        for (TieBreak tie : TieBreak.values()) {
            BitMask mask = o5().select(T, new SelectionSpec(ComparisonGroup.LAYER, 0.5, 0, 0, tie, 7));
            assertEquals(Masks.of(new int[][] {{1, 1, 0, 0}, {1, 1, 1, 0}, {1, 0, 0, 0}, {1, 1, 0, 0}}), mask, tie.name());
        }
    }

    @Test
    void o5RowGroupBreaksTiesByLowestColumn() {
        BitMask mask = o5().select(T, SelectionSpec.unstructured(ComparisonGroup.ROW, 0.5, 1));
        assertEquals(Masks.of(new int[][] {{1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}}), mask);
    }

    @Test
    void o5ColumnGroupBreaksTiesByLowestRow() {
        BitMask mask = o5().select(T, SelectionSpec.unstructured(ComparisonGroup.COLUMN, 0.5, 1));
        assertEquals(Masks.of(new int[][] {{1, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 1, 1}, {0, 0, 0, 1}}), mask);
    }

    /** Three agents whose masks sum to the O-6 votes: agent a votes where V > a. */
    static VoteAccumulator o6() {
        int[][] v = {{3, 1, 1, 1}, {2, 1, 3, 0}, {0, 1, 3, 2}, {3, 2, 1, 0}};
        VoteAccumulator acc = new VoteAccumulator(SHAPE);
        for (int a = 0; a < 3; a++) {
            int[][] bits = new int[4][4];
            for (int r = 0; r < 4; r++) {
                for (int c = 0; c < 4; c++) {
                    bits[r][c] = v[r][c] > a ? 1 : 0;
                }
            }
            acc.fold("agent" + a, Map.of(T, Masks.of(bits)));
        }
        assertArrayEquals(Masks.flat(v), acc.votes(T));
        return acc;
    }

    @Test
    void o6RandomTieFillKeepsTheInvariantsAndReachesEveryTiedEntry() {
        int[] tied = {1, 2, 3, 5, 9, 14}; // (0,1) (0,2) (0,3) (1,1) (2,1) (3,2)
        Set<Integer> chosen = new HashSet<>();
        VoteAccumulator acc = o6();
        int[] votes = acc.votes(T);
        for (long seed = 0; seed < 200; seed++) {
            BitMask mask = acc.select(T, SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, seed));
            assertEquals(8, mask.cardinality());
            int tiedRemoved = 0;
            for (int i = 0; i < 16; i++) {
                if (votes[i] >= 2) {
                    assertTrue(mask.get(i), "entry " + i + " with vote " + votes[i] + " must be removed");
                }
                if (votes[i] == 0) {
                    assertFalse(mask.get(i), "entry " + i + " with vote 0 must be kept");
                }
                if (votes[i] == 1 && mask.get(i)) {
                    tiedRemoved++;
                    chosen.add(i);
                }
            }
            assertEquals(1, tiedRemoved);
        }
        assertEquals(Set.of(tied[0], tied[1], tied[2], tied[3], tied[4], tied[5]), chosen, "every tied entry is drawn by some seed");
    }

    @Test
    void o6LowestIndexTieBreakRemovesEntryZeroOne() {
        BitMask mask = o6().select(T, new SelectionSpec(ComparisonGroup.LAYER, 0.5, 0, 0, TieBreak.LOWEST_INDEX, 0));
        assertEquals(8, mask.cardinality());
        assertTrue(mask.get(1), "(0,1) is the lowest tied index");
        for (int i : new int[] {2, 3, 5, 9, 14}) {
            assertFalse(mask.get(i));
        }
    }

    @Test
    void o7PrunesWithoutScaling() {
        VoteAccumulator acc = o5();
        BitMask layer = acc.select(T, SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 0));
        float[] pruned = acc.prune(T, o1Weights(), layer, false);
        assertArrayEquals(new float[] {0, 0, 3, -4, 0, 0, 0, 1, 0, 1, -1, 0.25f, 0, 0, 4, -3}, pruned);
    }

    @Test
    void o7ScalesKeptWeightsByTheFractionOfAgentsThatKeptThem() {
        VoteAccumulator acc = o5();
        BitMask layer = acc.select(T, SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 0));
        float[] scaled = acc.prune(T, o1Weights(), layer, true);
        float[] expected = {0, 0, 3, -4, 0, 0, 0, 1, 0, 2f / 3, -2f / 3, 1f / 6, 0, 0, 8f / 3, -2};
        assertArrayEquals(expected, scaled, 1e-3f);
        for (int i = 0; i < 16; i++) {
            if (layer.get(i)) {
                assertEquals(0f, scaled[i], 0f, "pruned entries stay exactly 0");
            }
        }
    }

    static float[] o1Weights() {
        return new float[] {1, -2, 3, -4, 4, 3, -2, 1, -3, 1, -1, 0.25f, 2, -1, 4, -3};
    }
}
