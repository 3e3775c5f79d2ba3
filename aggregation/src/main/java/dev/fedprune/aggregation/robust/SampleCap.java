package dev.fedprune.aggregation.robust;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A coordinator-side cap on the weight an agent's self-reported {@code sample_count} can carry: no
 * agent weighs more than {@code factor} times the median report of its round. Used by robust sparse
 * FedAvg and by FedPrLLM's {@code voteWeighting: samples}, so one agent cannot outweigh the others by
 * reporting more samples than it has.
 */
public final class SampleCap {
    private SampleCap() {
    }

    /**
     * @param weights  each agent's capped weight, in the order reported
     * @param cap      the largest weight any agent may carry this round ({@code Long.MAX_VALUE} without a cap)
     * @param capped   the agents whose report was cut to {@code cap}
     */
    public record Result(Map<String, Long> weights, long cap, List<String> capped) {
    }

    /**
     * @param reported agent id to its reported sample count (each at least 1), in fold order
     * @param factor   the cap as a multiple of the median report; 0 for no cap
     */
    public static Result apply(Map<String, Long> reported, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("factor must be a finite number >= 0, got " + factor);
        }
        long cap = Long.MAX_VALUE;
        if (factor > 0 && !reported.isEmpty()) {
            long[] sorted = reported.values().stream().mapToLong(Long::longValue).sorted().toArray();
            int n = sorted.length;
            double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
            cap = Math.max(1, (long) Math.floor(factor * median));
        }
        Map<String, Long> weights = new LinkedHashMap<>();
        long c = cap;
        reported.forEach((agent, samples) -> weights.put(agent, Math.min(samples, c)));
        List<String> capped = reported.entrySet().stream().filter(e -> e.getValue() > c).map(Map.Entry::getKey).toList();
        return new Result(weights, cap, capped);
    }
}
