package dev.fedprune.coordinator.round;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * What a round's defences against poisoning did, as a round summary reports it (field {@code defence})
 * and the job report repeats per round: the aggregation rule, the agents whose votes the trimmed vote
 * dropped, how many values the trimmed mean dropped at each end of every coordinate, whose update was
 * clipped, and whose sample_count was cut to the cap. Absent parts are left out of the JSON.
 *
 * @param rule          {@code mean}, {@code trimmed_mean} or {@code median} (sparse FedAvg); {@code vote} or
 *                      {@code trimmed_vote} (FedPrLLM)
 * @param trimmedPerEnd trimmed mean: values dropped at each end of every coordinate
 * @param trimmed       trimmed vote: the agents whose votes were dropped, farthest from the consensus first
 * @param clipNorm      the largest L2 norm an update kept
 * @param medianUpdateNorm sparse FedAvg: the median L2 norm of the agents' updates before clipping (what a clipNorm compares to)
 * @param sampleCap     the largest weight an agent's sample_count carried this round
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DefenceSummary(String rule, Integer trimmedPerEnd, List<String> trimmed, Double clipNorm, List<String> clipped,
                             Double medianUpdateNorm, Long sampleCap, List<String> capped) {

    /** The same summary with agent ids replaced by names. */
    public DefenceSummary withAgentNames(UnaryOperator<String> nameOf) {
        return new DefenceSummary(rule, trimmedPerEnd, names(trimmed, nameOf), clipNorm, names(clipped, nameOf), medianUpdateNorm, sampleCap,
                names(capped, nameOf));
    }

    private static List<String> names(List<String> ids, UnaryOperator<String> nameOf) {
        return ids == null ? null : ids.stream().map(nameOf).toList();
    }
}
