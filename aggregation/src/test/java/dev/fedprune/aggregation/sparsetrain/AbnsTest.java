package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AbnsTest {

    private static BnStatisticsAccumulator o17(BnPooling pooling) {
        BnStatisticsAccumulator acc = new BnStatisticsAccumulator(Map.of("bn1", 2), pooling);
        acc.fold("client1", 100, Map.of("bn1", new BnStatistics(new float[] {0, 2}, new float[] {1, 1})));
        acc.fold("client2", 300, Map.of("bn1", new BnStatistics(new float[] {4, 2}, new float[] {3, 5})));
        return acc;
    }

    @Test
    void o17PlainWeightedAverageOfBnStatistics() {
        BnStatistics s = o17(BnPooling.PLAIN).aggregate().get("bn1");
        assertArrayEquals(new float[] {3, 2}, s.mean());
        assertArrayEquals(new float[] {2.5f, 4}, s.variance());
    }

    @Test
    void o17ExactPoolingAddsTheBetweenClientTerm() {
        BnStatistics s = o17(BnPooling.EXACT).aggregate().get("bn1");
        assertArrayEquals(new float[] {3, 2}, s.mean());
        assertArrayEquals(new float[] {5.5f, 4}, s.variance(), 1e-6f);
    }

    @Test
    void o17SelectsTheLowestMeanLoss() {
        CandidateSelection selection = new CandidateSelection(3);
        selection.fold("c1", new float[] {1.2f, 1.0f, 0.8f});
        selection.fold("c2", new float[] {0.9f, 1.1f, 1.6f});
        selection.fold("c3", new float[] {1.5f, 1.3f, 1.2f});
        double[] mean = selection.meanLosses();
        assertEquals(1.2, mean[0], 1e-6);
        assertEquals(1.1333333, mean[1], 1e-6);
        assertEquals(1.2, mean[2], 1e-6);
        assertEquals(1, selection.selected());
    }

    @Test
    void tiesGoToTheLowestCandidateIndex() {
        assertEquals(0, CandidateSelection.argmin(new double[] {1.2, 1.5, 1.2}));
        CandidateSelection selection = new CandidateSelection(3);
        selection.fold("a", new float[] {1.0f, 2f, 0.5f});
        selection.fold("b", new float[] {0.5f, 2f, 1.0f});
        assertEquals(0, selection.selected());
    }

    @Test
    void rejectsBadStatisticsAndLossesNamingTheField() {
        BnStatisticsAccumulator acc = new BnStatisticsAccumulator(Map.of("bn1", 2), BnPooling.PLAIN);
        assertEquals("bnStatistics[bn1]", assertThrows(InvalidContributionException.class,
                () -> acc.fold("a", 1, Map.of("bn1", new BnStatistics(new float[] {0}, new float[] {1})))).field());
        assertEquals("bnStatistics[bn1]", assertThrows(InvalidContributionException.class,
                () -> acc.fold("a", 1, Map.of("bn1", new BnStatistics(new float[] {0, Float.NaN}, new float[] {1, 1})))).field());
        assertEquals("bnStatistics[bn1]", assertThrows(InvalidContributionException.class,
                () -> acc.fold("a", 1, Map.of("bn1", new BnStatistics(new float[] {0, 0}, new float[] {1, -1})))).field());
        assertThrows(InvalidContributionException.class, () -> acc.fold("a", 1, Map.of()));
        assertThrows(InvalidContributionException.class, () -> acc.fold("a", 0, Map.of("bn1", new BnStatistics(new float[] {0, 0}, new float[] {1, 1}))));
        acc.fold("a", 1, Map.of("bn1", new BnStatistics(new float[] {0, 0}, new float[] {1, 1})));
        assertThrows(InvalidContributionException.class, () -> acc.fold("a", 1, Map.of("bn1", new BnStatistics(new float[] {0, 0}, new float[] {1, 1}))));
        assertEquals(1, acc.agentCount());

        CandidateSelection selection = new CandidateSelection(2);
        assertEquals("losses", assertThrows(InvalidContributionException.class, () -> selection.fold("a", new float[] {1})).field());
        assertEquals("losses[1]", assertThrows(InvalidContributionException.class,
                () -> selection.fold("a", new float[] {1, Float.POSITIVE_INFINITY})).field());
        assertThrows(IllegalStateException.class, selection::selected);
    }
}
