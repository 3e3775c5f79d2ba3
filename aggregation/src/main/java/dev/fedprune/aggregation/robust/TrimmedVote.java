package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A trimmed FedPrLLM vote: ignore the agents farthest from the consensus. Two passes over the stored
 * contributions, after the normal fold: (1) select the consensus from all votes and measure every
 * agent's Hamming distance to it; (2) subtract the farthest {@code trimFraction} of agents from the
 * counts (votes are sums, so removing an agent is exact) and select again.
 *
 * <p>Memory: the consensus masks (1 bit per weight) plus one agent's contribution at a time; the
 * accumulator's counters are modified in place, so no second accumulator is allocated. I/O: every
 * contribution is read once in pass 1 and the trimmed ones once more in pass 2.
 */
public final class TrimmedVote {
    private TrimmedVote() {
    }

    /** Loads a stored contribution again (the coordinator's contribution store). */
    @FunctionalInterface
    public interface ContributionSource {
        Map<String, BitMask> masks(String agentId) throws IOException;
    }

    /**
     * @param consensus    the untrimmed selection
     * @param agreement    every agent's distance to that consensus
     * @param excluded     the agents removed, farthest first
     * @param trimmedMasks the selection from the remaining agents' votes
     */
    public record Result(Map<String, BitMask> consensus, AgreementReport agreement, List<String> excluded,
                         Map<String, BitMask> trimmedMasks) {
    }

    /**
     * Runs both passes. Afterwards {@code accumulator} holds the votes of the kept agents only.
     *
     * @param trimFraction fraction of agents to drop, in [0, 1): {@code (int) (fraction * agents)} of them
     */
    public static Result run(VoteAccumulator accumulator, SelectionSpec spec, double trimFraction, ContributionSource source)
            throws IOException {
        Map<String, BitMask> consensus = accumulator.selectAll(spec);
        List<AgentAgreement> agreements = new ArrayList<>();
        for (String agent : accumulator.agentWeights().keySet()) {
            agreements.add(AgreementReport.measure(agent, consensus, source.masks(agent)));
        }
        AgreementReport report = new AgreementReport(agreements);
        List<String> excluded = report.farthest(trimFraction);
        for (String agent : excluded) {
            accumulator.unfold(agent, source.masks(agent));
        }
        Map<String, BitMask> trimmed = excluded.isEmpty() ? consensus : accumulator.selectAll(spec);
        return new Result(consensus, report, excluded, trimmed);
    }
}
