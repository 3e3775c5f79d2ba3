package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sparse FedAvg that one agent cannot steer: each agent's self-reported sample weight is capped, its
 * update is clipped, and every coordinate is combined by a weighted mean, a coordinate-wise trimmed
 * mean or a weighted median. A coordinate an agent did not send is 0 in its model, as in
 * {@link dev.fedprune.aggregation.sparse.SparseFedAvg}; with no cap, no clipping and the mean rule the
 * result is that class's, bit for bit.
 *
 * <p>Unlike the plain mean, the trimmed mean and the median need every agent's value of a coordinate
 * at once: the aggregator keeps each agent's model densely, 4 bytes per weight per agent (the CNNs of
 * sparse training jobs, not LLMs).
 */
public final class RobustFedAvg {

    /** How the agents' values of one coordinate are combined. */
    public enum Rule { MEAN, TRIMMED_MEAN, MEDIAN }

    /**
     * @param trimFraction    trimmed mean: the fraction of agents dropped at each end of every coordinate, in [0, 0.5)
     * @param clipNorm        when positive, an agent's update (its model minus the round's starting model) is scaled
     *                        down to at most this L2 norm over all tensors
     * @param sampleCapFactor when positive, no agent's weight exceeds this multiple of the median reported sample count
     */
    public record Options(Rule rule, double trimFraction, double clipNorm, double sampleCapFactor) {
        public Options {
            if (rule == null) {
                throw new IllegalArgumentException("rule is required");
            }
            if (!(trimFraction >= 0 && trimFraction < 0.5)) {
                throw new IllegalArgumentException("trimFraction must be in [0, 0.5), got " + trimFraction);
            }
            if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
                throw new IllegalArgumentException("clipNorm must be a finite number >= 0, got " + clipNorm);
            }
            if (!(sampleCapFactor >= 0) || Double.isInfinite(sampleCapFactor)) {
                throw new IllegalArgumentException("sampleCapFactor must be a finite number >= 0, got " + sampleCapFactor);
            }
        }

        public static Options plain() {
            return new Options(Rule.MEAN, 0, 0, 0);
        }
    }

    /**
     * What the defences did this round, per agent: the weight used (after the cap), the update's L2 norm
     * before clipping, and who was capped or clipped; and how many agents' values the trimmed mean dropped
     * at each end of every coordinate (0 for the other rules).
     */
    public record Report(Map<String, Long> weights, Map<String, Double> updateNorms, List<String> capped, List<String> clipped,
                         int trimmedPerEnd) {
    }

    /** Agents dropped at each end of every coordinate by the trimmed mean of {@code agentCount} agents. */
    public int trimmedPerEnd(int agentCount) {
        return options.rule() == Rule.TRIMMED_MEAN ? CoordinateRules.trimmed(agentCount, options.trimFraction()) : 0;
    }

    public record Result(Map<String, float[]> model, Report report) {
    }

    private record Agent(String id, long samples, Map<String, float[]> model) {
    }

    private final Map<String, float[]> start;
    private final Options options;
    private final List<Agent> agents = new ArrayList<>();

    /** @param start the model the round started from, per tensor (the reference of every update) */
    public RobustFedAvg(Map<String, float[]> start, Options options) {
        this.start = Collections.unmodifiableMap(new LinkedHashMap<>(start));
        this.options = options;
    }

    /** Folds one agent's model; rejects, changing nothing, what {@code SparseFedAvg.fold} rejects. */
    public synchronized void fold(String agentId, long sampleCount, Map<String, SparseTensor> update) {
        if (sampleCount < 1) {
            throw new InvalidContributionException("sample_count", "agent " + agentId + " must report at least 1 sample, got " + sampleCount);
        }
        if (agents.stream().anyMatch(a -> a.id.equals(agentId))) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        Map<String, float[]> model = new LinkedHashMap<>();
        for (Map.Entry<String, SparseTensor> e : update.entrySet()) {
            float[] reference = start.get(e.getKey());
            if (reference == null) {
                throw new InvalidContributionException("updates", "unknown tensor '" + e.getKey() + "'");
            }
            if (e.getValue().size() != reference.length) {
                throw new InvalidContributionException("updates[" + e.getKey() + "]", "size " + e.getValue().size() + ", expected " + reference.length);
            }
            String problem = e.getValue().problem();
            if (problem != null) {
                throw new InvalidContributionException("updates[" + e.getKey() + "]", problem);
            }
            model.put(e.getKey(), e.getValue().toDense());
        }
        start.forEach((name, reference) -> model.putIfAbsent(name, new float[reference.length]));
        agents.add(new Agent(agentId, sampleCount, model));
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    public synchronized Result aggregate() {
        if (agents.isEmpty()) {
            throw new IllegalStateException("no agent folded");
        }
        Map<String, Long> reported = new LinkedHashMap<>();
        agents.forEach(a -> reported.put(a.id, a.samples));
        SampleCap.Result cap = SampleCap.apply(reported, options.sampleCapFactor());
        Map<String, Long> weights = cap.weights();
        Map<String, Double> norms = new LinkedHashMap<>();
        List<String> clipped = new ArrayList<>();
        List<Map<String, float[]>> models = new ArrayList<>();
        for (Agent a : agents) {
            double norm = updateNorm(a.model);
            norms.put(a.id, norm);
            if (options.clipNorm() > 0 && norm > options.clipNorm()) {
                clipped.add(a.id);
                models.add(clip(a.model, options.clipNorm() / norm));
            } else {
                models.add(a.model);
            }
        }
        long[] w = agents.stream().mapToLong(a -> weights.get(a.id)).toArray();
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String name : start.keySet()) {
            float[] result = new float[start.get(name).length];
            float[] values = new float[agents.size()];
            for (int j = 0; j < result.length; j++) {
                for (int k = 0; k < values.length; k++) {
                    values[k] = models.get(k).get(name)[j];
                }
                result[j] = (float) CoordinateRules.combine(options.rule(), values, w, options.trimFraction());
            }
            out.put(name, result);
        }
        return new Result(out, new Report(weights, norms, cap.capped(), clipped, trimmedPerEnd(agents.size())));
    }

    private double updateNorm(Map<String, float[]> model) {
        double sum = 0;
        for (Map.Entry<String, float[]> e : start.entrySet()) {
            float[] m = model.get(e.getKey());
            float[] s = e.getValue();
            for (int j = 0; j < s.length; j++) {
                double d = (double) m[j] - s[j];
                sum += d * d;
            }
        }
        return Math.sqrt(sum);
    }

    /** {@code start + scale * (model - start)}. */
    private Map<String, float[]> clip(Map<String, float[]> model, double scale) {
        Map<String, float[]> out = new LinkedHashMap<>();
        start.forEach((name, s) -> {
            float[] m = model.get(name);
            float[] c = Arrays.copyOf(s, s.length);
            for (int j = 0; j < s.length; j++) {
                c[j] = (float) (s[j] + scale * ((double) m[j] - s[j]));
            }
            out.put(name, c);
        });
        return out;
    }
}
