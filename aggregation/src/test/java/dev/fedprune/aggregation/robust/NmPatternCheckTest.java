package dev.fedprune.aggregation.robust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NmPatternCheckTest {
    /** 3 rows of 40 columns (blocks straddle 64-bit words), pruning columns 0 and 1 of every 4. */
    static BitMask twoOfFour() {
        BitMask mask = new BitMask(120);
        for (int i = 0; i < 120; i++) {
            if (i % 4 < 2) {
                mask.set(i);
            }
        }
        return mask;
    }

    @Test
    void acceptsAMaskWithExactlyNOfEveryM() {
        new NmPatternCheck(2, 4, Map.of("t", 40L)).check(Map.of("t", twoOfFour()));
    }

    @Test
    void rejectsABlockWithTheWrongCountNamingRowAndColumn() {
        BitMask bad = twoOfFour();
        bad.set(66); // row 1, column 26: block 24..27 now prunes 3
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> new NmPatternCheck(2, 4, Map.of("t", 40L)).check(Map.of("t", bad)));
        assertEquals("masks[t]", e.field());
        assertTrue(e.getMessage().contains("row 1, column 24 prunes 3 weights, expected 2"), e.getMessage());
    }

    @Test
    void accumulatorWithTheCheckRejectsAndStaysUnchanged() {
        MaskCheck check = MaskCheck.all(new SparsityCheck(0.5, 0.01), new NmPatternCheck(2, 4, Map.of("t", 40L)));
        VoteAccumulator acc = new VoteAccumulator(Map.of("t", new long[] {3, 40}), check);
        acc.fold("good", Map.of("t", twoOfFour()));
        BitMask shifted = new BitMask(120); // 50% sparse but 1 and 3 per block alternately
        for (int i = 0; i < 120; i++) {
            if (i % 8 < 4 ? i % 8 == 0 : i % 8 != 7) {
                shifted.set(i);
            }
        }
        assertEquals(60, shifted.cardinality());
        assertThrows(InvalidContributionException.class, () -> acc.fold("bad", Map.of("t", shifted)));
        assertEquals(1, acc.agentCount());
        assertArrayEquals(new VoteAccumulatorOf(twoOfFour()).votes(), acc.votes("t"));
    }

    private record VoteAccumulatorOf(BitMask mask) {
        int[] votes() {
            int[] v = new int[(int) mask.length()];
            for (int i = 0; i < v.length; i++) {
                v[i] = mask.get(i) ? 1 : 0;
            }
            return v;
        }
    }
}
