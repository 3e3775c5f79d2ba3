package dev.fedprune.coordinator.round;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.proto.v1.ModelQuality;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The quality agents measure of the global model a round starts from ({@code prior_model_quality}):
 * checked before a contribution is folded, kept with the task as metrics, and averaged per round
 * (weighted by evaluation samples) into the round summary that the dashboard charts.
 */
public final class RoundQuality {
    static final String PREFIX = "quality.";
    static final String SAMPLES = "quality_samples";
    static final String LOWER_IS_BETTER = "quality_lower_is_better";

    private RoundQuality() {
    }

    /** Refuses a measurement that cannot be averaged; a contribution without one passes. */
    static void check(ModelQuality q) {
        if (!q.getMetric().matches("[a-z][a-z0-9_]{0,31}")) {
            throw new InvalidContributionException("prior_model_quality.metric",
                    "expected a lower-case metric name such as perplexity or accuracy, got '" + q.getMetric() + "'");
        }
        if (!Double.isFinite(q.getValue()) || q.getValue() < 0) {
            throw new InvalidContributionException("prior_model_quality.value", "expected a finite, non-negative number, got " + q.getValue());
        }
        if (q.getSamples() <= 0) {
            throw new InvalidContributionException("prior_model_quality.samples", "expected a positive sample count, got " + q.getSamples());
        }
    }

    /** The task metrics that record one measurement. */
    static Map<String, Double> metrics(ModelQuality q) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(PREFIX + q.getMetric(), q.getValue());
        m.put(SAMPLES, (double) q.getSamples());
        m.put(LOWER_IS_BETTER, q.getLowerIsBetter() ? 1.0 : 0.0);
        return m;
    }

    /**
     * The sample-weighted mean of the measurements among the folded tasks' metrics, or null when none
     * measured. Perplexity is averaged as exp of the mean log-perplexity (the perplexity of all
     * samples pooled); other metrics as the plain weighted mean.
     *
     * @param modelAfterRounds how many rounds had shaped the measured model (0 = the model the job started from)
     */
    static Summary summarize(List<Map<String, Double>> foldedTaskMetrics, int modelAfterRounds) {
        String metric = null;
        double sum = 0;
        double samples = 0;
        int agents = 0;
        boolean lowerIsBetter = false;
        for (Map<String, Double> m : foldedTaskMetrics) {
            for (Map.Entry<String, Double> e : m.entrySet()) {
                if (!e.getKey().startsWith(PREFIX)) {
                    continue;
                }
                String name = e.getKey().substring(PREFIX.length());
                if (metric != null && !metric.equals(name)) {
                    continue; // one metric per round: the first one reported
                }
                metric = name;
                double w = m.getOrDefault(SAMPLES, 1.0);
                sum += w * (name.equals("perplexity") ? Math.log(e.getValue()) : e.getValue());
                samples += w;
                agents++;
                lowerIsBetter = m.getOrDefault(LOWER_IS_BETTER, 0.0) > 0;
            }
        }
        if (metric == null) {
            return null;
        }
        double mean = sum / samples;
        return new Summary(metric, metric.equals("perplexity") ? Math.exp(mean) : mean, (long) samples, agents, lowerIsBetter, modelAfterRounds);
    }

    /**
     * A round's measurement of the model it started from, as the round summary's {@code quality} field.
     *
     * @param modelAfterRounds how many rounds had shaped the measured model (0 = the model the job started from)
     */
    public record Summary(String metric, double value, long samples, int agents, boolean lowerIsBetter, int modelAfterRounds) {
    }
}
