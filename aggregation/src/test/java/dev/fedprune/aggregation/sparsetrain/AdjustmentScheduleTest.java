package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdjustmentScheduleTest {
    private final AdjustmentSchedule o11 = new AdjustmentSchedule(0.2, 10, 300, 1, BlockOrder.OUTPUT_TO_INPUT);

    @Test
    void o11CosineDecay() {
        assertEquals(0.2, o11.decay(0), 1e-15);
        assertEquals(0.19945219, o11.decay(10), 1e-8);
        assertEquals(0.1 * (1 + Math.cos(Math.PI / 30)), o11.decay(10), 1e-15);
        assertEquals(0.1, o11.decay(150), 1e-15);
        assertEquals(0.0, o11.decay(300));
        assertEquals(199, o11.adjustCount(10, 1000, 5000));
        assertEquals(0, o11.adjustCount(300, 1000, 5000));
    }

    @Test
    void o11AdjustmentAndMaskSyncRounds() {
        List<Integer> adjust = new ArrayList<>();
        List<Integer> sync = new ArrayList<>();
        for (int t = 0; t <= 400; t++) {
            switch (o11.mode(t)) {
                case ADJUSTMENT -> adjust.add(t);
                case MASK_SYNC -> sync.add(t);
                case NORMAL -> { }
            }
        }
        assertEquals(30, adjust.size());
        assertEquals(10, adjust.get(0));
        assertEquals(300, adjust.get(29));
        for (int i = 0; i < 30; i++) {
            assertEquals(10 * (i + 1), adjust.get(i));
            assertEquals(10 * (i + 1) + 1, sync.get(i));
        }
        assertEquals(30, sync.size());
        assertFalse(o11.isAdjustment(0));
        assertTrue(o11.sendsMask(0));
        assertTrue(o11.sendsMask(301));
        assertFalse(o11.sendsMask(302));
    }

    @Test
    void adjustCountIsCappedByTheInactiveWeights() {
        assertEquals(50, o11.adjustCount(10, 1000, 50));
        assertEquals(0, o11.adjustCount(11, 1000, 5000));
    }

    @Test
    void blocksAreVisitedFromTheOutputAndWrapAround() {
        AdjustmentSchedule s = new AdjustmentSchedule(0.2, 10, 300, 3, BlockOrder.OUTPUT_TO_INPUT);
        assertEquals(2, s.block(10));
        assertEquals(1, s.block(20));
        assertEquals(0, s.block(30));
        assertEquals(2, s.block(40));
        AdjustmentSchedule forward = new AdjustmentSchedule(0.2, 10, 300, 3, BlockOrder.INPUT_TO_OUTPUT);
        assertEquals(0, forward.block(10));
        assertEquals(2, forward.block(30));
        assertThrows(IllegalArgumentException.class, () -> s.block(15));
    }

    @Test
    void deltaTOfOneMakesEveryAdjustmentAlsoTheMaskSyncOfThePreviousOne() {
        AdjustmentSchedule s = new AdjustmentSchedule(0.2, 1, 3, 1, BlockOrder.OUTPUT_TO_INPUT);
        assertEquals(RoundMode.NORMAL, s.mode(0));
        assertEquals(RoundMode.ADJUSTMENT, s.mode(1));
        assertEquals(RoundMode.ADJUSTMENT, s.mode(2));
        assertTrue(s.sendsMask(2));
        assertEquals(RoundMode.MASK_SYNC, s.mode(4));
        assertEquals(RoundMode.NORMAL, s.mode(5));
    }

    @Test
    void rejectsBadParameters() {
        assertThrows(IllegalArgumentException.class, () -> new AdjustmentSchedule(0, 10, 300, 1, BlockOrder.OUTPUT_TO_INPUT));
        assertThrows(IllegalArgumentException.class, () -> new AdjustmentSchedule(0.2, 0, 300, 1, BlockOrder.OUTPUT_TO_INPUT));
        assertThrows(IllegalArgumentException.class, () -> new AdjustmentSchedule(0.2, 10, 0, 1, BlockOrder.OUTPUT_TO_INPUT));
        assertThrows(IllegalArgumentException.class, () -> new AdjustmentSchedule(0.2, 10, 300, 0, BlockOrder.OUTPUT_TO_INPUT));
        assertThrows(IllegalArgumentException.class, () -> o11.decay(-1));
    }
}
