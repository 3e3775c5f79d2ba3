package dev.fedprune.security.secagg;

import java.util.List;

/**
 * What every party of one secure-aggregation round agrees on before keys are exchanged: the job and
 * round (bound into every derived secret), the roster (index -> agent id; indices order the pairwise
 * mask signs), the neighbour graph, the per-neighbourhood threshold, and the vector shape.
 */
public record SecAggRound(String jobId, int roundIndex, List<String> agentIds, NeighbourGraph graph, int threshold, int weights, int fieldBits) {

    public SecAggRound {
        agentIds = List.copyOf(agentIds);
        if (graph.agents() != agentIds.size()) {
            throw new IllegalArgumentException("graph has " + graph.agents() + " agents, roster " + agentIds.size());
        }
        for (int a = 0; a < graph.agents(); a++) {
            int degree = graph.neighbours(a).length;
            if (threshold < 1 || threshold > degree) {
                throw new IllegalArgumentException("threshold " + threshold + " is not in 1.." + degree + " for agent " + agentIds.get(a));
            }
        }
        if (fieldBits < VoteVector.fieldBitsFor(agentIds.size())) {
            throw new IllegalArgumentException(fieldBits + "-bit fields cannot count the votes of " + agentIds.size() + " agents");
        }
    }

    /** The round for a roster: fields just wide enough for the agent count. */
    public static SecAggRound of(String jobId, int roundIndex, List<String> agentIds, NeighbourGraph graph, int threshold, int weights) {
        return new SecAggRound(jobId, roundIndex, agentIds, graph, threshold, weights, VoteVector.fieldBitsFor(agentIds.size()));
    }

    public String agentId(int index) {
        return agentIds.get(index);
    }

    /** The seed both u and v derive for their pairwise mask. */
    byte[] maskSeed(byte[] maskPrivateKey, int self, int peer, byte[] peerMaskPublicKey) {
        byte[] shared = X25519Keys.agree(maskPrivateKey, peerMaskPublicKey, agentId(peer));
        int low = Math.min(self, peer);
        int high = Math.max(self, peer);
        return RoundSecrets.maskSeed(shared, jobId, roundIndex, agentId(low), agentId(high));
    }
}
