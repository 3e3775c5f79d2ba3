package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.format.BitMask;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-agent agreement with the consensus of a round (Hamming distance per agent per tensor). The
 * consensus exists only after every contribution is folded, so the coordinator computes this in a
 * second pass over its stored contributions, one agent (or one tensor) at a time, and merges the parts.
 */
public record AgreementReport(List<AgentAgreement> agents) {

    public AgreementReport {
        agents = List.copyOf(agents);
    }

    /** One agent's distances over every tensor of the consensus. */
    public static AgentAgreement measure(String agentId, Map<String, BitMask> consensus, Map<String, BitMask> agentMasks) {
        Map<String, Long> byTensor = new LinkedHashMap<>();
        long distance = 0;
        long bits = 0;
        for (Map.Entry<String, BitMask> e : consensus.entrySet()) {
            BitMask mask = agentMasks.get(e.getKey());
            if (mask == null) {
                throw new IllegalArgumentException("agent " + agentId + " has no mask for tensor '" + e.getKey() + "'");
            }
            long d = e.getValue().hammingDistance(mask);
            byTensor.put(e.getKey(), d);
            distance += d;
            bits += mask.length();
        }
        return new AgentAgreement(agentId, byTensor, distance, bits);
    }

    /** Every agent's distance on one tensor: {@code agentMasks} maps agent id to its mask of that tensor. */
    public static AgreementReport agreement(String tensor, BitMask consensus, Map<String, BitMask> agentMasks) {
        List<AgentAgreement> out = new ArrayList<>();
        agentMasks.forEach((agent, mask) -> {
            long d = consensus.hammingDistance(mask);
            out.add(new AgentAgreement(agent, Map.of(tensor, d), d, mask.length()));
        });
        return new AgreementReport(out);
    }

    /** This report and another (other agents or other tensors of the same agents) combined. */
    public AgreementReport merge(AgreementReport other) {
        Map<String, AgentAgreement> byAgent = new LinkedHashMap<>();
        for (AgentAgreement a : agents) {
            byAgent.merge(a.agentId(), a, AgentAgreement::plus);
        }
        for (AgentAgreement a : other.agents) {
            byAgent.merge(a.agentId(), a, AgentAgreement::plus);
        }
        return new AgreementReport(new ArrayList<>(byAgent.values()));
    }

    /**
     * The {@code (int) (fraction * agents)} agents farthest from consensus, farthest first (ties by
     * agent id, so the choice is deterministic).
     */
    public List<String> farthest(double fraction) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("trim fraction must be in [0, 1), got " + fraction);
        }
        int count = (int) (agents.size() * fraction);
        return agents.stream()
                .sorted(Comparator.comparingDouble(AgentAgreement::disagreement).reversed().thenComparing(AgentAgreement::agentId))
                .limit(count)
                .map(AgentAgreement::agentId)
                .toList();
    }
}
