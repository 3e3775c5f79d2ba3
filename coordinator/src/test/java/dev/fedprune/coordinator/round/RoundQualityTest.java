package dev.fedprune.coordinator.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.proto.v1.ModelQuality;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoundQualityTest {

    static ModelQuality q(String metric, double value, long samples) {
        return ModelQuality.newBuilder().setMetric(metric).setValue(value).setSamples(samples).setLowerIsBetter(metric.equals("perplexity")).build();
    }

    @Test
    void perplexityIsPooledInLogSpaceAndAccuracyAveragedBySamples() {
        RoundQuality.Summary p = RoundQuality.summarize(List.of(RoundQuality.metrics(q("perplexity", 4, 1)),
                RoundQuality.metrics(q("perplexity", 16, 3)), Map.of("bytes_up", 10.0)), 2);
        // exp((1 ln 4 + 3 ln 16) / 4) = 2^((2 + 12) / 4) = 2^3.5
        assertEquals(Math.pow(2, 3.5), p.value(), 1e-12);
        assertEquals(4L, p.samples());
        assertEquals(2, p.agents());
        assertEquals(true, p.lowerIsBetter());
        assertEquals(2, p.modelAfterRounds());

        RoundQuality.Summary a = RoundQuality.summarize(List.of(RoundQuality.metrics(q("accuracy", 0.5, 100)),
                RoundQuality.metrics(q("accuracy", 0.9, 300))), 0);
        assertEquals(0.8, a.value(), 1e-12);
        assertEquals(false, a.lowerIsBetter());

        assertNull(RoundQuality.summarize(List.of(Map.of("bytes_up", 1.0)), 0));
    }

    @Test
    void measurementsThatCannotBeAveragedAreRefusedNamingTheField() {
        assertEquals("prior_model_quality.value",
                assertThrows(InvalidContributionException.class, () -> RoundQuality.check(q("perplexity", Double.NaN, 2))).field());
        assertEquals("prior_model_quality.value",
                assertThrows(InvalidContributionException.class, () -> RoundQuality.check(q("accuracy", Double.POSITIVE_INFINITY, 2))).field());
        assertEquals("prior_model_quality.samples",
                assertThrows(InvalidContributionException.class, () -> RoundQuality.check(q("accuracy", 0.5, 0))).field());
        assertEquals("prior_model_quality.metric",
                assertThrows(InvalidContributionException.class, () -> RoundQuality.check(q("Bad Metric", 0.5, 3))).field());
        RoundQuality.check(q("accuracy", 0.5, 3));
    }
}
