package dev.fedprune.security.secagg;

import dev.fedprune.security.secagg.RevealedShare.Secret;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The coordinator's side of one secure-aggregation round: sums masked vote vectors as they arrive,
 * then removes the masks with the shares survivors reveal: self-mask seeds of survivors, and mask private
 * keys of agents that shared but whose masked vector never arrived (to cancel the pairwise masks their
 * neighbours added for them). Learns the sum of the survivors' votes and nothing else, as long as fewer
 * than the threshold of any agent's neighbours collude with it.
 */
public final class SecAggAggregator {
    private final SecAggRound round;
    private final Map<Integer, KeyAdvertisement> advertisements;
    private final Set<Integer> shared;
    private final Set<Integer> survivors = new TreeSet<>();
    private final VoteVector maskedSum;

    /**
     * @param advertisements the verified key advertisements, by roster index
     * @param shared the agents whose share envelopes were relayed in phase 2 (their neighbours mask with them)
     */
    public SecAggAggregator(SecAggRound round, Map<Integer, KeyAdvertisement> advertisements, Set<Integer> shared) {
        this.round = round;
        this.advertisements = Map.copyOf(advertisements);
        this.shared = Set.copyOf(shared);
        this.maskedSum = VoteVector.zeros(round.weights(), round.fieldBits());
    }

    /** Adds one agent's masked vector into the running sum; each agent counts once. */
    public void accept(int agent, VoteVector masked) {
        if (!shared.contains(agent)) {
            throw new IllegalArgumentException("agent " + round.agentId(agent) + " did not share its secrets; its masked vector cannot be unmasked");
        }
        if (!survivors.add(agent)) {
            throw new IllegalArgumentException("agent " + round.agentId(agent) + " already sent its masked vector");
        }
        maskedSum.add(masked);
    }

    /** Agents whose masked vector arrived (Bonawitz's U3). */
    public Set<Integer> survivors() {
        return Collections.unmodifiableSet(survivors);
    }

    /** Agents that shared secrets but whose masked vector did not arrive. */
    public Set<Integer> dropped() {
        Set<Integer> d = new TreeSet<>(shared);
        d.removeAll(survivors);
        return d;
    }

    /**
     * The sum mod 2^k of the survivors' vote vectors.
     *
     * @throws InsufficientSharesException naming every agent for which fewer than the threshold of surviving neighbours revealed a share
     * @throws CorruptSharesException if shares do not reconstruct a key matching its advertisement
     */
    public VoteVector unmask(Collection<RevealedShare> revealed) {
        Set<Integer> dropped = dropped();
        Map<Integer, List<SeedShare>> seedShares = new TreeMap<>();
        Map<Integer, List<SeedShare>> keyShares = new TreeMap<>();
        for (RevealedShare r : revealed) {
            if (!survivors.contains(r.holder()) || !round.graph().adjacent(r.owner(), r.holder())) {
                throw new IllegalArgumentException("share of " + round.agentId(r.owner()) + " from " + round.agentId(r.holder())
                        + ", which is no surviving neighbour");
            }
            if (r.share().x() != round.graph().sharePoint(r.owner(), r.holder())) {
                throw new CorruptSharesException("share of " + round.agentId(r.owner()) + " from " + round.agentId(r.holder()) + " is for the wrong point");
            }
            boolean wanted = r.secret() == Secret.SELF_MASK_SEED ? survivors.contains(r.owner()) : dropped.contains(r.owner());
            if (!wanted) {
                throw new IllegalArgumentException(round.agentId(r.holder()) + " revealed a " + r.secret() + " share of " + round.agentId(r.owner())
                        + ", which was not asked for");
            }
            (r.secret() == Secret.SELF_MASK_SEED ? seedShares : keyShares).computeIfAbsent(r.owner(), k -> new ArrayList<>()).add(r.share());
        }
        List<String> lacking = new ArrayList<>();
        List<String> details = new ArrayList<>();
        for (int u = 0; u < round.agentIds().size(); u++) {
            boolean survivor = survivors.contains(u);
            if (!survivor && !dropped.contains(u)) {
                continue;
            }
            int have = (survivor ? seedShares : keyShares).getOrDefault(u, List.of()).size();
            if (have < round.threshold()) {
                lacking.add(round.agentId(u));
                details.add(round.agentId(u) + " (" + (survivor ? "self-mask seed" : "mask private key") + ": " + have + " of " + round.threshold() + " shares)");
            }
        }
        if (!lacking.isEmpty()) {
            throw new InsufficientSharesException("cannot unmask round " + round.roundIndex() + " of job " + round.jobId()
                    + ": too few surviving neighbours revealed shares for " + String.join(", ", details), lacking);
        }
        VoteVector result = maskedSum.copy();
        for (int u : survivors) {
            MaskPrg.subtractFrom(result, Shamir.combine(seedShares.get(u), round.threshold()));
        }
        for (int u : dropped) {
            byte[] sk = Shamir.combine(keyShares.get(u), round.threshold());
            if (!Arrays.equals(X25519Keys.fromPrivateKey(sk).publicKey(), advertisements.get(u).maskPublicKey())) {
                throw new CorruptSharesException("shares of " + round.agentId(u) + "'s mask key do not reconstruct the key it advertised");
            }
            for (int v : round.graph().neighbours(u)) {
                if (!survivors.contains(v)) {
                    continue;
                }
                byte[] seed = round.maskSeed(sk, u, v, advertisements.get(v).maskPublicKey());
                if (v < u) {
                    MaskPrg.subtractFrom(result, seed);
                } else {
                    MaskPrg.addTo(result, seed);
                }
            }
        }
        return result;
    }
}
