package dev.fedprune.aggregation.vote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Vote counts summed elsewhere (secure aggregation) select exactly what the folded masks select. */
class CountedVoteTest {
    static final Map<String, long[]> SHAPES = VoteAccumulatorContractTest.shapes();

    @Test
    void countsSelectBitIdenticalMasksToFoldingEveryGroupAndTieBreak() {
        SplittableRandom random = new SplittableRandom(7);
        VoteAccumulator folded = new VoteAccumulator(SHAPES);
        List<String> voters = List.of("a", "b", "c", "d", "e", "f", "g");
        for (String v : voters) {
            folded.fold(v, VoteAccumulatorContractTest.masks(random));
        }
        Map<String, int[]> counts = new LinkedHashMap<>();
        SHAPES.keySet().forEach(t -> counts.put(t, folded.votes(t)));
        VoteAccumulator counted = new VoteAccumulator(SHAPES);
        counted.foldCounts(voters, counts);
        assertEquals(folded.totalWeight(), counted.totalWeight());
        for (ComparisonGroup group : ComparisonGroup.values()) {
            for (TieBreak tie : TieBreak.values()) {
                SelectionSpec spec = new SelectionSpec(group, 0.5, 0, 0, tie, 42);
                assertEquals(folded.selectAll(spec), counted.selectAll(spec), group + " " + tie);
            }
        }
        SelectionSpec nm = new SelectionSpec(ComparisonGroup.LAYER, 0.5, 2, 4, TieBreak.SEEDED_RANDOM, 42);
        assertEquals(folded.selectAll(nm), counted.selectAll(nm));
        BitMask mask = folded.select("q", nm);
        float[] weights = new float[128];
        java.util.Arrays.fill(weights, 1f);
        assertArrayEquals(folded.prune("q", weights, mask, true), counted.prune("q", weights, mask, true));
    }

    @Test
    void refusesCountsAboveTheVoterCountOrOfTheWrongLength() {
        Map<String, int[]> counts = new LinkedHashMap<>();
        counts.put("q", new int[128]);
        counts.put("k", new int[64]);
        counts.get("k")[5] = 4;
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> new VoteAccumulator(SHAPES).foldCounts(List.of("a", "b", "c"), counts));
        assertEquals("counts[k]", e.field());
        counts.put("k", new int[63]);
        assertThrows(InvalidContributionException.class, () -> new VoteAccumulator(SHAPES).foldCounts(List.of("a"), counts));
    }
}
