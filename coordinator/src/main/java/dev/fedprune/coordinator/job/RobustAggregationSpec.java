package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.robust.RobustFedAvg;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code robustAggregation} block of a sparse training job: how the agents' models of a round are
 * combined so that a few agents cannot steer the global model (issue 20).
 *
 * <pre>
 * robustAggregation:
 *   rule: trimmed_mean    # mean (default) | trimmed_mean | median, per coordinate
 *   trimFraction: 0.2     # trimmed_mean only: agents dropped at each end of every coordinate, in (0, 0.5)
 *   clipNorm: 5           # optional: an agent's update (its model minus the round's start) is scaled to this L2 norm at most
 *   sampleCap: 2          # optional: no agent weighs more than this many times the round's median sample_count, at least 1
 * </pre>
 *
 * @param clipNorm  0 = no clipping
 * @param sampleCap 0 = no cap
 */
public record RobustAggregationSpec(RobustFedAvg.Rule rule, double trimFraction, double clipNorm, double sampleCap) {

    public static final String FIELD = "robustAggregation";
    static final Set<String> FIELDS = Set.of("rule", "trimFraction", "clipNorm", "sampleCap");

    /** The options of the round's {@link RobustFedAvg}. */
    public RobustFedAvg.Options options() {
        return new RobustFedAvg.Options(rule, trimFraction, clipNorm, sampleCap);
    }

    public String ruleLabel() {
        return rule.name().toLowerCase(Locale.ROOT);
    }

    /** The block of {@code f}, or null when the spec has none (plain sample-weighted FedAvg). */
    static RobustAggregationSpec parse(SpecFields f) {
        SpecFields b = f.block(FIELD, FIELDS);
        if (b == null) {
            return null;
        }
        RobustFedAvg.Rule rule = b.enumField("rule", RobustFedAvg.Rule.class, "mean");
        double trim = 0;
        if (rule == RobustFedAvg.Rule.TRIMMED_MEAN) {
            trim = b.number("trimFraction", Double.NaN);
            if (!(trim > 0 && trim < 0.5)) {
                throw b.error("trimFraction", "required for rule trimmed_mean: the fraction of agents dropped at each end of every "
                        + "coordinate, in (0, 0.5), got " + (b.has("trimFraction") ? b.raw("trimFraction") : "none"));
            }
        } else if (b.has("trimFraction")) {
            throw b.error("trimFraction", "only for rule trimmed_mean; this block's rule is " + rule.name().toLowerCase(Locale.ROOT));
        }
        double clip = b.number("clipNorm", 0);
        if (b.has("clipNorm") && !(clip > 0 && Double.isFinite(clip))) {
            throw b.error("clipNorm", "expected the largest L2 norm of an agent's update, a finite number > 0, got " + b.raw("clipNorm"));
        }
        return new RobustAggregationSpec(rule, trim, clip, sampleCap(b, "sampleCap"));
    }

    /**
     * A cap on the weight of any agent's self-reported sample_count, as a multiple of the round's median
     * report: at least 1, since a cap below the median would cut honest agents; 0 when absent.
     */
    static double sampleCap(SpecFields f, String key) {
        if (!f.has(key)) {
            return 0;
        }
        double cap = f.number(key, 0);
        if (!(cap >= 1) || Double.isInfinite(cap)) {
            throw f.error(key, "expected a finite multiple of the round's median sample_count, at least 1, got " + f.raw(key));
        }
        return cap;
    }

    /**
     * Refuses a trimmed mean that would trim nobody: {@code ⌊trimFraction × agents⌋} must be at least 1
     * with the fewest agents a round may aggregate (its quorum).
     */
    public void checkAgents(int quorum) {
        if (rule == RobustFedAvg.Rule.TRIMMED_MEAN && Math.floor(trimFraction * quorum) < 1) {
            throw new InvalidJobSpecException(FIELD + ".trimFraction", "trims no agent of a round of " + quorum + " (the quorum): "
                    + "the trimmed mean drops ⌊trimFraction × agents⌋ at each end; expected at least " + (1.0 / quorum) + ", got " + trimFraction);
        }
    }

    void write(Map<String, Object> out) {
        Map<String, Object> block = new LinkedHashMap<>();
        block.put("rule", ruleLabel());
        if (rule == RobustFedAvg.Rule.TRIMMED_MEAN) {
            block.put("trimFraction", trimFraction);
        }
        if (clipNorm > 0) {
            block.put("clipNorm", clipNorm);
        }
        if (sampleCap > 0) {
            block.put("sampleCap", sampleCap);
        }
        out.put(FIELD, block);
    }
}
