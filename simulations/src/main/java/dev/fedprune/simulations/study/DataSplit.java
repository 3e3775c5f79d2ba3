package dev.fedprune.simulations.study;

import dev.fedprune.simulations.scenario.Scenario;
import java.util.Locale;

/**
 * How a study deals the calibration documents to its agents.
 *
 * @param alpha      Dirichlet concentration (only for {@code dirichlet}; smaller is more skewed)
 * @param minSamples every agent holds at least this many documents
 */
public record DataSplit(Scenario.Partition kind, double alpha, int minSamples) {

    /** The split's name in results.json and in file names: {@code iid}, {@code category}, {@code dirichlet-0.3}. */
    public String label() {
        String k = kind.name().toLowerCase(Locale.ROOT);
        return kind == Scenario.Partition.DIRICHLET ? k + "-" + stripZeros(alpha) : k;
    }

    private static String stripZeros(double v) {
        return new java.math.BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
    }
}
