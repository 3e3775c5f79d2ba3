package dev.fedprune.coordinator.job;

import dev.fedprune.security.secagg.NeighbourGraph;
import java.util.Map;
import java.util.Set;

/**
 * The secure-aggregation part of a FedPrLLM spec ({@code secureAggregation: true}): agents upload their
 * mask votes hidden by pairwise masks (docs/secure-aggregation.md), so the coordinator learns only the
 * vote count of each weight. Options that need an individual agent's mask are refused with it.
 *
 * @param degree    neighbours per agent in the SecAgg+ graph; 0 = 2*ceil(log2 n) for the n agents that advertise keys
 *                  (always capped at n-1, the complete graph of Bonawitz et al.)
 * @param threshold shares of an agent's secret needed to reconstruct it; the round fails with a precise reason when
 *                  fewer of its neighbours stay to reveal them; 0 = degree/2 + 1
 */
public record SecureAggregationSpec(int degree, int threshold) {

    public static final Set<String> FIELDS = Set.of("secureAggregation", "secureAggregationDegree", "secureAggregationThreshold");

    /** The degree of a round whose roster has {@code agents} agents. */
    public int degreeFor(int agents) {
        return Math.min(agents - 1, degree > 0 ? degree : NeighbourGraph.recommendedDegree(agents));
    }

    /** The threshold of a round whose roster has {@code agents} agents. */
    public int thresholdFor(int agents) {
        return threshold > 0 ? threshold : degreeFor(agents) / 2 + 1;
    }

    /**
     * Reads the secure-aggregation fields of a FedPrLLM spec; null when {@code secureAggregation} is off.
     * Refuses the options that need each agent's mask (a trimmed vote measures every agent against the
     * consensus; a sparsity tolerance checks every mask; weighted votes need each agent's weight), an
     * over-selected round (the roster is fixed when keys are exchanged), and a threshold the roster or the
     * quorum cannot meet.
     */
    static SecureAggregationSpec parse(SpecFields f) {
        if (!f.bool("secureAggregation", false)) {
            for (String field : FIELDS) {
                if (f.has(field) && !field.equals("secureAggregation")) {
                    throw new InvalidJobSpecException(field, "only with secureAggregation: true");
                }
            }
            return null;
        }
        String needsMasks = "secure aggregation shows the coordinator only the vote count of each weight, never an agent's mask";
        if (f.number("trimFraction", 0) != 0) {
            throw new InvalidJobSpecException("trimFraction", "cannot be combined with secureAggregation: a trimmed vote measures every agent's "
                    + "mask against the consensus (Hamming distance) and drops the farthest; " + needsMasks);
        }
        if (!f.string("voteWeighting", "none").equalsIgnoreCase("none")) {
            throw new InvalidJobSpecException("voteWeighting", "cannot be combined with secureAggregation: weighted votes need each agent's "
                    + "sample count applied to its mask; " + needsMasks + " (one vote per agent)");
        }
        if (f.has("sparsityTolerance")) {
            throw new InvalidJobSpecException("sparsityTolerance", "cannot be combined with secureAggregation: the tolerance is checked on each "
                    + "agent's mask; " + needsMasks);
        }
        if (f.has("overSelectedAgents") && f.number("overSelectedAgents", 0) != 0) {
            throw new InvalidJobSpecException("overSelectedAgents", "cannot be combined with secureAggregation: the agents of a secure round "
                    + "are fixed when they exchange keys, so a round cannot close early at agentsPerRound votes");
        }
        // The common fields are already checked by the parser; 2 is its default.
        int agents = f.integer("agentsPerRound", 1, 100_000, 2);
        int quorum = f.integer("quorum", 1, agents, agents);
        if (agents < 3) {
            throw new InvalidJobSpecException("agentsPerRound", "secureAggregation needs at least 3 agents per round, got " + agents
                    + ": with 2, each agent could subtract its own vote from the counts and learn the other's mask");
        }
        int degree = f.integer("secureAggregationDegree", 0, 100_000, 0);
        if (f.has("secureAggregationDegree") && (degree < 2 || degree % 2 != 0)) {
            throw new InvalidJobSpecException("secureAggregationDegree", "expected an even number of neighbours of at least 2 "
                    + "(the Harary graph of SecAgg+), got " + f.raw("secureAggregationDegree"));
        }
        SecureAggregationSpec spec = new SecureAggregationSpec(degree, 0);
        int effectiveDegree = spec.degreeFor(agents);
        int threshold = f.integer("secureAggregationThreshold", 0, 100_000, 0);
        if (f.has("secureAggregationThreshold") && (threshold < 1 || threshold > effectiveDegree)) {
            throw new InvalidJobSpecException("secureAggregationThreshold", "expected 1.." + effectiveDegree + " (the neighbours of each of "
                    + agents + " agents with secureAggregationDegree " + (degree > 0 ? degree : "by default") + "), got " + f.raw("secureAggregationThreshold"));
        }
        spec = new SecureAggregationSpec(degree, threshold);
        if (quorum < spec.thresholdFor(agents)) {
            throw new InvalidJobSpecException("quorum", "must be at least secureAggregationThreshold (" + spec.thresholdFor(agents)
                    + "): agents reveal the shares that unmask the votes only when that many masked votes arrived; got " + quorum);
        }
        return spec;
    }

    void write(Map<String, Object> out) {
        out.put("secureAggregation", true);
        if (degree > 0) {
            out.put("secureAggregationDegree", degree);
        }
        if (threshold > 0) {
            out.put("secureAggregationThreshold", threshold);
        }
    }
}
