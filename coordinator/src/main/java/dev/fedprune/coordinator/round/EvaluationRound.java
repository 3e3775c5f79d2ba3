package dev.fedprune.coordinator.round;

import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import java.util.function.Function;

/**
 * The round in which every agent measures the final model on its own data and reports only that
 * measurement: the last round of any method that evaluates. Each contribution's quality is checked by the
 * method (which metric, which range) and averaged, weighted by the samples each agent measured on.
 */
public final class EvaluationRound {
    private final Function<Contribution, ModelQuality> measurement;
    private int agents;
    private double valueSum;
    private long samples;

    /** @param measurement the method's check of an evaluation contribution, returning its measurement or throwing
     *                    {@link dev.fedprune.aggregation.InvalidContributionException} */
    public EvaluationRound(Function<Contribution, ModelQuality> measurement) {
        this.measurement = measurement;
    }

    public void open() {
        agents = 0;
        valueSum = 0;
        samples = 0;
    }

    /** Checks and counts one agent's measurement. */
    public void fold(Contribution contribution) {
        ModelQuality q = measurement.apply(contribution);
        valueSum += q.getValue() * q.getSamples();
        samples += q.getSamples();
        agents++;
    }

    /** The round's measurement; a round closes only with at least one folded contribution. */
    public Result close(int roundIndex) {
        if (agents == 0) {
            throw new IllegalStateException("evaluation round " + roundIndex + " has no folded measurements");
        }
        return new Result(agents, valueSum / samples, samples);
    }

    /** @param meanValue the sample-weighted mean of the measured values; samples: all samples measured */
    public record Result(int agents, double meanValue, long samples) {
    }
}
