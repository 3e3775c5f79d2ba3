package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.robust.RobustFedAvg;
import dev.fedprune.aggregation.robust.SampleCap;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.coordinator.job.RobustAggregationSpec;
import dev.fedprune.coordinator.round.DefenceSummary;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The agents' models of one training round, combined when it closes: by plain sample-weighted sparse
 * FedAvg (8 bytes per weight, however many agents), or, when the job has a {@code robustAggregation}
 * block, by {@link RobustFedAvg} against the model the round started from (4 bytes per weight per agent),
 * with what its defences did.
 */
final class RoundAverage {
    private final SparseFedAvg plain;
    private final RobustFedAvg robust;
    private final RobustAggregationSpec defence;
    /** Each folded agent's reported sample count, in fold order. */
    private final Map<String, Long> reported = new LinkedHashMap<>();

    /**
     * @param sizes   the number of values of every tensor, by name
     * @param start   robust aggregation: the global model the round started from, every tensor by name (the reference
     *                of the agents' updates); unused by plain sparse FedAvg
     * @param defence the job's robust aggregation, or null for plain sparse FedAvg
     */
    RoundAverage(Map<String, Long> sizes, Supplier<Map<String, float[]>> start, RobustAggregationSpec defence) {
        this.defence = defence;
        if (defence == null) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            sizes.forEach((name, size) -> shapes.put(name, new long[] {size}));
            this.plain = new SparseFedAvg(shapes);
            this.robust = null;
        } else {
            this.plain = null;
            this.robust = new RobustFedAvg(start.get(), defence.options());
        }
    }

    /** The combined model, the samples the agents reported, and what the defences did (null without any). */
    record Closed(Map<String, float[]> model, long reportedSamples, DefenceSummary defence) {
    }

    boolean contains(String agentId) {
        return reported.containsKey(agentId);
    }

    int agentCount() {
        return reported.size();
    }

    /** All or nothing: rejects what sparse FedAvg rejects. */
    void fold(String agentId, long sampleCount, Map<String, SparseTensor> update) {
        if (contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        if (plain != null) {
            plain.fold(agentId, sampleCount, update);
        } else {
            robust.fold(agentId, sampleCount, update);
        }
        reported.put(agentId, sampleCount);
    }

    /**
     * Each agent's weight in the round's other sample-weighted sums (top-K gradients): its report, capped
     * as the job's {@code sampleCap} says.
     */
    Map<String, Long> weights() {
        return SampleCap.apply(reported, defence == null ? 0 : defence.sampleCap()).weights();
    }

    private static double median(java.util.Collection<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    Closed close(Iterable<String> tensors) {
        long samples = reported.values().stream().mapToLong(Long::longValue).sum();
        Map<String, float[]> model = new LinkedHashMap<>();
        if (plain != null) {
            tensors.forEach(name -> model.put(name, plain.average(name)));
            return new Closed(model, samples, null);
        }
        RobustFedAvg.Result result = robust.aggregate();
        RobustFedAvg.Report r = result.report();
        SampleCap.Result cap = SampleCap.apply(reported, defence.sampleCap());
        DefenceSummary summary = new DefenceSummary(defence.ruleLabel(), defence.trimFraction() > 0 ? r.trimmedPerEnd() : null, null,
                defence.clipNorm() > 0 ? defence.clipNorm() : null, defence.clipNorm() > 0 ? r.clipped() : null, median(r.updateNorms().values()),
                defence.sampleCap() > 0 ? cap.cap() : null, defence.sampleCap() > 0 ? r.capped() : null);
        tensors.forEach(name -> model.put(name, result.model().get(name)));
        return new Closed(model, samples, summary);
    }
}
