package dev.fedprune.coordinator.fedprllm;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.fedprune.aggregation.robust.SampleCap;
import dev.fedprune.coordinator.job.FedPrLlmSpec;
import dev.fedprune.coordinator.round.DefenceSummary;
import dev.fedprune.coordinator.round.RoundSummary;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * A voting round: each agent's disagreement with the consensus, the agents whose votes were trimmed,
 * the global mask's artifact, the sparsity of each tensor, and, when the job defends its vote (trimmed
 * vote, sample cap), what the defences did.
 */
public record VoteSummary(Map<String, Double> agreement, List<String> excluded, String maskArtifact, Map<String, Double> sparsity,
                          @JsonInclude(JsonInclude.Include.NON_NULL) DefenceSummary defence) implements RoundSummary.Detail {

    /** The evaluation round: agents only measured the final model. */
    public record Evaluation(boolean evaluation) implements RoundSummary.Detail {
    }

    /** What the job's defences did this round; null when it has none. */
    static DefenceSummary defence(FedPrLlmSpec spec, SampleCap.Result cap, List<String> excluded) {
        boolean trims = spec.trimFraction() > 0;
        boolean caps = spec.sampleCap() > 0;
        if (!trims && !caps) {
            return null;
        }
        return new DefenceSummary(trims ? "trimmed_vote" : "vote", null, trims ? List.copyOf(excluded) : null, null, null, null,
                caps ? cap.cap() : null, caps ? cap.capped() : null);
    }

    @Override
    public VoteSummary withAgentNames(UnaryOperator<String> nameOf) {
        Map<String, Double> byName = new TreeMap<>();
        agreement.forEach((id, v) -> byName.put(nameOf.apply(id), v));
        return new VoteSummary(byName, excluded.stream().map(nameOf).toList(), maskArtifact, sparsity,
                defence == null ? null : defence.withAgentNames(nameOf));
    }
}
