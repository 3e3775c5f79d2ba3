package dev.fedprune.aggregation.robust;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How far one agent's masks are from the round's consensus: the Hamming distance per tensor and in
 * total, over {@code bits} compared weights.
 */
public record AgentAgreement(String agentId, Map<String, Long> hammingByTensor, long distance, long bits) {

    public AgentAgreement {
        hammingByTensor = Collections.unmodifiableMap(new LinkedHashMap<>(hammingByTensor));
    }

    /** Fraction of compared weights on which the agent disagrees with the consensus, in [0, 1]. */
    public double disagreement() {
        return bits == 0 ? 0 : (double) distance / bits;
    }

    /** This agent's distances together with those of more tensors. */
    AgentAgreement plus(AgentAgreement other) {
        Map<String, Long> merged = new LinkedHashMap<>(hammingByTensor);
        other.hammingByTensor.forEach((tensor, d) -> merged.merge(tensor, d, Long::sum));
        return new AgentAgreement(agentId, merged, distance + other.distance, bits + other.bits);
    }
}
