package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.secagg.RevealedShare.Secret;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The whole protocol in one JVM, without gRPC: 20 agents, degree 8, threshold 5, dropouts after masking. */
class SecureAggregationSimulationTest {
    static final int AGENTS = 20;
    static final int DEGREE = 8;
    static final int THRESHOLD = 5;
    static final int WEIGHTS = 10_007;

    final SecureRandom random = new SecureRandom();

    /** Runs phases 1-3 for every agent and returns what the coordinator and agents hold afterwards. */
    Simulation maskAll(long voteSeed) {
        List<String> ids = IntStream.range(0, AGENTS).mapToObj(i -> String.format("agent-%02d", i)).toList();
        byte[] graphSeed = new byte[32];
        random.nextBytes(graphSeed);
        SecAggRound round = SecAggRound.of("job-secagg", 4, ids, NeighbourGraph.harary(AGENTS, DEGREE, graphSeed), THRESHOLD, WEIGHTS);
        Map<Integer, PublicKey> identities = new HashMap<>();
        Map<Integer, KeyAdvertisement> ads = new HashMap<>();
        List<SecAggAgent> agents = new ArrayList<>();
        for (int i = 0; i < AGENTS; i++) {
            KeyPair identity = KeyPairs.generate();
            identities.put(i, identity.getPublic());
            SecAggAgent agent = new SecAggAgent(round, i, random);
            agents.add(agent);
            ads.put(i, agent.advertise(identity.getPrivate()));
        }
        List<ShareEnvelope> relayed = new ArrayList<>();
        for (SecAggAgent agent : agents) {
            relayed.addAll(agent.shareSecrets(ads, identities, random));
        }
        relayed.forEach(e -> agents.get(e.to()).receive(e));

        SplittableRandom votes = new SplittableRandom(voteSeed);
        List<VoteVector> plain = new ArrayList<>();
        List<VoteVector> masked = new ArrayList<>();
        for (SecAggAgent agent : agents) {
            long[] mask = new long[(WEIGHTS + 63) / 64];
            for (int i = 0; i < WEIGHTS; i++) {
                if (votes.nextDouble() < 0.5) {
                    mask[i >>> 6] |= 1L << i;
                }
            }
            VoteVector v = VoteVector.fromMask(mask, WEIGHTS, round.fieldBits());
            plain.add(v);
            masked.add(agent.mask(v));
        }
        Set<Integer> shared = relayed.stream().map(ShareEnvelope::from).collect(Collectors.toSet());
        return new Simulation(round, agents, new SecAggAggregator(round, ads, shared), plain, masked);
    }

    record Simulation(SecAggRound round, List<SecAggAgent> agents, SecAggAggregator aggregator, List<VoteVector> plain, List<VoteVector> masked) {
        /** Uploads the masked vectors of everyone not dropped, then collects the survivors' revealed shares. */
        List<RevealedShare> uploadAndReveal(Set<Integer> droppedAfterMasking) {
            for (int i = 0; i < agents.size(); i++) {
                if (!droppedAfterMasking.contains(i)) {
                    aggregator.accept(i, masked.get(i));
                }
            }
            List<RevealedShare> revealed = new ArrayList<>();
            for (int s : aggregator.survivors()) {
                revealed.addAll(agents.get(s).reveal(aggregator.survivors(), aggregator.dropped()));
            }
            return revealed;
        }

        VoteVector plainSumOf(Set<Integer> who) {
            return VoteVector.sum(who.stream().map(plain::get).toList());
        }
    }

    @Test
    void unmaskedAggregateIsExactlyTheSumOfTheSurvivorsVotesAfterThreeDropouts() {
        Simulation sim = maskAll(11);
        Set<Integer> dropped = Set.of(2, 9, 15);
        List<RevealedShare> revealed = sim.uploadAndReveal(dropped);
        assertEquals(dropped, sim.aggregator().dropped());

        VoteVector aggregate = sim.aggregator().unmask(revealed);

        Set<Integer> survivors = new TreeSet<>(IntStream.range(0, AGENTS).boxed().toList());
        survivors.removeAll(dropped);
        VoteVector expected = sim.plainSumOf(survivors);
        assertEquals(expected, aggregate);
        for (int i = 0; i < WEIGHTS; i++) {
            final int w = i;
            long votes = survivors.stream().filter(a -> sim.plain().get(a).get(w) == 1).count();
            assertEquals(votes, aggregate.get(i), "weight " + i);
        }
        // the coordinator got exactly one kind of secret per agent: self-mask seeds of survivors, mask keys of dropped agents
        Map<Integer, Set<Secret>> kinds = new HashMap<>();
        revealed.forEach(r -> kinds.computeIfAbsent(r.owner(), k -> new TreeSet<>()).add(r.secret()));
        kinds.forEach((owner, k) -> {
            assertEquals(1, k.size(), "agent " + owner);
            assertEquals(dropped.contains(owner) ? Secret.MASK_PRIVATE_KEY : Secret.SELF_MASK_SEED, k.iterator().next());
        });
    }

    @Test
    void maskedVectorsLookNothingLikeTheVotes() {
        Simulation sim = maskAll(12);
        for (int a = 0; a < AGENTS; a++) {
            VoteVector plain = sim.plain().get(a);
            VoteVector masked = sim.masked().get(a);
            assertNotEquals(plain, masked);
            int same = 0;
            for (int i = 0; i < WEIGHTS; i++) {
                same += plain.get(i) == masked.get(i) ? 1 : 0;
            }
            // a uniformly masked 5-bit field equals the vote with probability 1/32
            assertTrue(same < WEIGHTS / 16, "agent " + a + ": " + same + " of " + WEIGHTS + " fields unchanged");
        }
    }

    @Test
    void withoutDropoutsTheSumOfAllVotesComesBack() {
        Simulation sim = maskAll(13);
        List<RevealedShare> revealed = sim.uploadAndReveal(Set.of());
        Set<Integer> everyone = new TreeSet<>(IntStream.range(0, AGENTS).boxed().toList());
        assertEquals(sim.plainSumOf(everyone), sim.aggregator().unmask(revealed));
    }

    @Test
    void refusesToUnmaskWhenAnAgentHasTooFewSurvivingNeighboursAndNamesIt() {
        Simulation sim = maskAll(14);
        int victim = 0;
        int[] neighbours = sim.round().graph().neighbours(victim);
        Set<Integer> dropped = Set.of(neighbours[0], neighbours[1], neighbours[2], neighbours[3]);
        List<RevealedShare> revealed = sim.uploadAndReveal(dropped);

        var e = assertThrows(InsufficientSharesException.class, () -> sim.aggregator().unmask(revealed));

        assertTrue(e.agentsLackingShares().contains("agent-00"), e.agentsLackingShares().toString());
        assertTrue(e.getMessage().contains("agent-00 (self-mask seed: 4 of 5 shares)"), e.getMessage());
    }

    @Test
    void agentRefusesToRevealBothSecretsOfOneAgent() {
        Simulation sim = maskAll(15);
        SecAggAgent holder = sim.agents().get(0);
        int neighbour = sim.round().graph().neighbours(0)[0];
        Set<Integer> survivors = new TreeSet<>(IntStream.range(0, AGENTS).boxed().toList());
        var e = assertThrows(IllegalArgumentException.class, () -> holder.reveal(survivors, Set.of(neighbour)));
        assertTrue(e.getMessage().contains("both surviving and dropped"), e.getMessage());
    }

    @Test
    void agentRefusesKeysTheRelaySubstituted() {
        List<String> ids = IntStream.range(0, AGENTS).mapToObj(i -> "agent-" + i).toList();
        SecAggRound round = SecAggRound.of("job-secagg", 1, ids, NeighbourGraph.harary(AGENTS, DEGREE, new byte[32]), THRESHOLD, WEIGHTS);
        Map<Integer, PublicKey> identities = new HashMap<>();
        Map<Integer, KeyAdvertisement> ads = new HashMap<>();
        for (int i = 0; i < AGENTS; i++) {
            KeyPair identity = KeyPairs.generate();
            identities.put(i, identity.getPublic());
            ads.put(i, new SecAggAgent(round, i, random).advertise(identity.getPrivate()));
        }
        int victim = round.graph().neighbours(0)[0];
        KeyAdvertisement real = ads.get(victim);
        // the coordinator swaps in a mask key of its own, keeping the agent's signature
        ads.put(victim, new KeyAdvertisement(real.agentId(), real.roundIndex(), real.sharePublicKey(), X25519Keys.generate(random).publicKey(), real.signature()));
        SecAggAgent agent0 = new SecAggAgent(round, 0, random);
        var e = assertThrows(dev.fedprune.security.SignatureRejectedException.class, () -> agent0.shareSecrets(ads, identities, random));
        assertTrue(e.getMessage().contains("agent-" + victim), e.getMessage());
    }

    @Test
    void agentRefusesAnEnvelopeSealedForAnotherAgent() {
        Simulation sim = maskAll(16);
        // an envelope re-addressed by the relay does not decrypt (indices are authenticated, keys are per pair)
        SecAggAgent a = sim.agents().get(0);
        int n0 = sim.round().graph().neighbours(0)[0];
        ShareEnvelope forged = new ShareEnvelope(n0, 0, new byte[2 * SeedShare.BYTES + 16]);
        assertThrows(dev.fedprune.security.InvalidSecurityInputException.class, () -> a.receive(forged));
    }
}
