package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.robust.AgreementReport;
import dev.fedprune.aggregation.robust.LayeredVote;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import dev.fedprune.coordinator.job.SecureAggregationSpec;
import dev.fedprune.coordinator.method.CertificateIdentity;
import dev.fedprune.coordinator.round.PhaseEnd;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskedVote;
import dev.fedprune.proto.v1.SecAggEnvelope;
import dev.fedprune.proto.v1.SecAggKeys;
import dev.fedprune.proto.v1.SecAggRevealedShare;
import dev.fedprune.proto.v1.SecAggTaskSpec;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.secagg.CorruptSharesException;
import dev.fedprune.security.secagg.InsufficientSharesException;
import dev.fedprune.security.secagg.KeyAdvertisement;
import dev.fedprune.security.secagg.NeighbourGraph;
import dev.fedprune.security.secagg.RevealedShare;
import dev.fedprune.security.secagg.SecAggAggregator;
import dev.fedprune.security.secagg.SecAggRound;
import dev.fedprune.security.secagg.VoteLayout;
import dev.fedprune.security.secagg.VoteVector;
import dev.fedprune.wire.SecAggWire;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One FedPrLLM voting round with secure aggregation, on the coordinator (docs/secure-aggregation.md): agents
 * advertise signed keys, exchange sealed Shamir shares through the coordinator, upload masked vote vectors and
 * reveal the shares that remove the masks. The coordinator relays and sums; it holds public keys, sealed
 * envelopes, the running sum of masked vectors and, at the end, the vote count of each weight: never an
 * agent's mask. A phase that leaves too few agents, or a neighbourhood below the threshold, fails the round
 * with a reason that names the agents and the shares missing.
 */
final class SecureVoting {
    private enum Phase { KEYS, SHARES, MASKED_VOTE, UNMASK, UNMASKED }

    private static final TaskKind[] KINDS = {TaskKind.TASK_KIND_SECAGG_KEYS, TaskKind.TASK_KIND_SECAGG_SHARES,
            TaskKind.TASK_KIND_SECAGG_MASKED_VOTE, TaskKind.TASK_KIND_SECAGG_UNMASK, TaskKind.TASK_KIND_SECAGG_UNMASK};

    private final SecureAggregationSpec spec;
    private final String jobId;
    private final long seed;
    private final int quorum;
    private final int roundIndex;
    private final int weights;
    private final CertificateIdentity certificates;
    private Phase phase = Phase.KEYS;
    private final Map<String, SecAggKeys> keys = new TreeMap<>();
    private SecAggRound round;
    private final Map<Integer, KeyAdvertisement> advertisements = new TreeMap<>();
    private final Map<Integer, List<SecAggEnvelope>> envelopes = new TreeMap<>();
    private SecAggAggregator aggregator;
    private final List<RevealedShare> revealed = new ArrayList<>();
    private VoteVector counts;

    /**
     * @param quorum  masked votes needed (the job's quorum)
     * @param weights the length of the round's vote vector: its tensors' weights together
     * @param certificates the coordinator's PKI: an agent's keys come with its certificate, accepted only if
     *                     the coordinator issued it to that agent and it is valid and not revoked
     */
    SecureVoting(SecureAggregationSpec spec, String jobId, long seed, int quorum, int roundIndex, long weights,
                 CertificateIdentity certificates) {
        if (weights > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("round " + (roundIndex + 1) + " votes on " + weights + " weights; a secure round takes at most "
                    + (Integer.MAX_VALUE - 64) + ": use strategy: iterative (one decoder layer per round)");
        }
        this.spec = spec;
        this.jobId = jobId;
        this.seed = seed;
        this.quorum = quorum;
        this.roundIndex = roundIndex;
        this.weights = (int) weights;
        this.certificates = certificates;
    }

    TaskKind kind() {
        return KINDS[phase.ordinal()];
    }

    /** What the current phase's tasks carry: the setup from phase 2 on, and what the previous phase relays. */
    SecAggTaskSpec.Builder taskSpec() {
        SecAggTaskSpec.Builder task = SecAggTaskSpec.newBuilder().setNumWeights(weights);
        if (round == null) {
            return task;
        }
        task.addAllRoster(round.agentIds()).setGraphSeed(com.google.protobuf.ByteString.copyFrom(graphSeed(round.agentIds())))
                .setDegree(degree()).setThreshold(round.threshold()).setFieldBits(round.fieldBits());
        switch (phase) {
            case SHARES -> task.addAllKeys(keys.values());
            case MASKED_VOTE -> envelopes.values().forEach(task::addAllEnvelopes);
            case UNMASK, UNMASKED -> task.addAllSurvivors(aggregator.survivors()).addAllDropped(aggregator.dropped());
            default -> {
            }
        }
        return task;
    }

    /** Checks and keeps one agent's answer to the current phase; all or nothing. */
    void fold(String agentId, Contribution answer) {
        switch (phase) {
            case KEYS -> foldKeys(agentId, answer);
            case SHARES -> foldEnvelopes(agentId, answer);
            case MASKED_VOTE -> foldMaskedVote(agentId, answer);
            case UNMASK -> foldReveal(agentId, answer);
            default -> throw new InvalidContributionException("phase", "round " + (roundIndex + 1) + " is unmasked; it takes no more answers");
        }
    }

    private void foldKeys(String agentId, Contribution answer) {
        if (!answer.hasSecaggKeys()) {
            throw new InvalidContributionException("secagg_keys", "a key-advertisement task needs the agent's signed keys");
        }
        SecAggKeys ad = answer.getSecaggKeys();
        if (!ad.getAgentId().equals(agentId) || ad.getRoundIndex() != roundIndex) {
            throw new InvalidContributionException("secagg_keys", "keys are for " + ad.getAgentId() + " in round " + ad.getRoundIndex()
                    + ", uploaded by " + agentId + " in round " + roundIndex);
        }
        try {
            X509Certificate certificate = Pem.certificate(ad.getCertificatePem(), "secagg_keys.certificate_pem");
            if (!CertificateVerifier.commonName(certificate).equals(agentId)) {
                throw new InvalidContributionException("secagg_keys.certificate_pem", "is the certificate of "
                        + CertificateVerifier.commonName(certificate) + ", not of " + agentId);
            }
            // Peers check it too, but a certificate this coordinator did not issue is refused here, before it is relayed.
            String identified;
            try {
                identified = certificates.agentOf(certificate);
            } catch (RuntimeException e) {
                throw new InvalidContributionException("secagg_keys.certificate_pem", e.getMessage());
            }
            if (!identified.equals(agentId)) {
                throw new InvalidContributionException("secagg_keys.certificate_pem", "identifies " + identified + ", not " + agentId);
            }
            SecAggWire.advertisement(ad).verify(jobId, certificate.getPublicKey());
        } catch (InvalidContributionException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new InvalidContributionException("secagg_keys", e.getMessage());
        }
        keys.put(agentId, ad);
    }

    private void foldEnvelopes(String agentId, Contribution answer) {
        int self = indexOf(agentId, "secagg_envelopes");
        if (!answer.hasSecaggEnvelopes()) {
            throw new InvalidContributionException("secagg_envelopes", "a share task needs the agent's sealed shares");
        }
        Set<Integer> to = new TreeSet<>();
        for (SecAggEnvelope e : answer.getSecaggEnvelopes().getEnvelopesList()) {
            if (e.getFrom() != self || e.getTo() < 0 || e.getTo() >= round.agentIds().size() || !round.graph().adjacent(self, e.getTo())
                    || !to.add(e.getTo()) || e.getCiphertext().isEmpty()) {
                throw new InvalidContributionException("secagg_envelopes", "envelope " + e.getFrom() + " -> " + e.getTo() + " of " + agentId
                        + " is not one sealed envelope to a neighbour");
            }
        }
        envelopes.put(self, answer.getSecaggEnvelopes().getEnvelopesList());
    }

    private void foldMaskedVote(String agentId, Contribution answer) {
        int self = indexOf(agentId, "masked_vote");
        if (!answer.hasMaskedVote()) {
            throw new InvalidContributionException("masked_vote", "a masked-vote task needs the masked vote vector");
        }
        MaskedVote vote = answer.getMaskedVote();
        if (vote.getNumWeights() != weights || vote.getFieldBits() != round.fieldBits()) {
            throw new InvalidContributionException("masked_vote", vote.getNumWeights() + " fields of " + vote.getFieldBits()
                    + " bits, expected " + weights + " of " + round.fieldBits());
        }
        VoteVector masked;
        try {
            masked = VoteVector.fromBytes(vote.getData().toByteArray(), weights, round.fieldBits());
            aggregator.accept(self, masked);
        } catch (IllegalArgumentException e) {
            throw new InvalidContributionException("masked_vote", e.getMessage());
        }
    }

    private void foldReveal(String agentId, Contribution answer) {
        int self = indexOf(agentId, "secagg_reveal");
        if (!answer.hasSecaggReveal() || !aggregator.survivors().contains(self)) {
            throw new InvalidContributionException("secagg_reveal", "an unmask task needs the revealed shares of an agent whose masked vote arrived");
        }
        List<RevealedShare> shares = new ArrayList<>();
        for (SecAggRevealedShare s : answer.getSecaggReveal().getSharesList()) {
            RevealedShare share;
            try {
                share = SecAggWire.share(s);
            } catch (IllegalArgumentException e) {
                throw new InvalidContributionException("secagg_reveal", e.getMessage());
            }
            boolean asked = share.secret() == RevealedShare.Secret.SELF_MASK_SEED ? aggregator.survivors().contains(share.owner())
                    : aggregator.dropped().contains(share.owner());
            if (share.holder() != self || !asked || !round.graph().adjacent(share.owner(), self)) {
                throw new InvalidContributionException("secagg_reveal", agentId + " revealed a share of index " + share.owner()
                        + " that was not asked of it");
            }
            shares.add(share);
        }
        revealed.addAll(shares);
    }

    private int indexOf(String agentId, String field) {
        int i = round.agentIds().indexOf(agentId);
        if (i < 0) {
            throw new InvalidContributionException(field, agentId + " is not in the roster of round " + (roundIndex + 1));
        }
        return i;
    }

    /** Ends the current phase with the agents whose answers were folded. */
    PhaseEnd endPhase(List<String> folded) {
        switch (phase) {
            case KEYS -> {
                List<String> roster = List.copyOf(keys.keySet());
                if (roster.size() < Math.max(3, quorum)) {
                    return PhaseEnd.fail("secure aggregation: only " + roster.size() + " agents advertised keys, need " + Math.max(3, quorum)
                            + " (the quorum, at least 3)");
                }
                int degree = spec.degreeFor(roster.size());
                int threshold = spec.thresholdFor(roster.size());
                if (threshold > degree) {
                    return PhaseEnd.fail("secure aggregation: " + roster.size() + " agents advertised keys, so each has " + degree
                            + " neighbours, fewer than the threshold " + threshold);
                }
                NeighbourGraph graph = NeighbourGraph.harary(roster.size(), degree, graphSeed(roster));
                round = SecAggRound.of(jobId, roundIndex, roster, graph, threshold, weights);
                for (int i = 0; i < roster.size(); i++) {
                    advertisements.put(i, SecAggWire.advertisement(keys.get(roster.get(i))));
                }
                phase = Phase.SHARES;
                return PhaseEnd.next(roster);
            }
            case SHARES -> {
                Set<Integer> shared = envelopes.keySet();
                String thin = thinNeighbourhoods(shared, shared, "shared");
                if (shared.size() < quorum || thin != null) {
                    return PhaseEnd.fail("secure aggregation: " + (thin != null ? thin : "only " + shared.size() + " agents shared their secrets, quorum "
                            + quorum));
                }
                aggregator = new SecAggAggregator(round, advertisements, shared);
                phase = Phase.MASKED_VOTE;
                return PhaseEnd.next(names(shared));
            }
            case MASKED_VOTE -> {
                Set<Integer> survivors = aggregator.survivors();
                Set<Integer> needed = new TreeSet<>(survivors);
                needed.addAll(aggregator.dropped());
                String thin = thinNeighbourhoods(needed, survivors, "sent masked votes");
                if (survivors.size() < Math.max(quorum, round.threshold()) || thin != null) {
                    return PhaseEnd.fail("secure aggregation: " + (thin != null ? thin : "only " + survivors.size() + " masked votes arrived, need "
                            + Math.max(quorum, round.threshold()) + " (quorum " + quorum + ", threshold " + round.threshold() + ")")
                            + "; dropped after sharing: " + names(aggregator.dropped()));
                }
                phase = Phase.UNMASK;
                return PhaseEnd.next(names(survivors));
            }
            case UNMASK -> {
                try {
                    counts = aggregator.unmask(revealed);
                } catch (InsufficientSharesException | CorruptSharesException e) {
                    return PhaseEnd.fail("secure aggregation: " + e.getMessage() + "; " + folded.size() + " of " + aggregator.survivors().size()
                            + " surviving agents revealed shares");
                }
                phase = Phase.UNMASKED;
                return PhaseEnd.close();
            }
            default -> throw new IllegalStateException("round " + (roundIndex + 1) + " is already unmasked");
        }
    }

    /**
     * Names the agents among {@code owners} whose secrets fewer than the threshold of their neighbours in
     * {@code holders} could reveal, or null when every one has enough.
     */
    private String thinNeighbourhoods(Set<Integer> owners, Set<Integer> holders, String what) {
        List<String> thin = new ArrayList<>();
        for (int u : owners) {
            long have = java.util.Arrays.stream(round.graph().neighbours(u)).filter(holders::contains).count();
            if (have < round.threshold()) {
                thin.add(round.agentId(u) + " (" + have + " of its neighbours " + what + ", threshold " + round.threshold() + ")");
            }
        }
        return thin.isEmpty() ? null : "too few neighbours left to unmask " + String.join(", ", thin);
    }

    private List<String> names(Set<Integer> indices) {
        return indices.stream().map(round::agentId).toList();
    }

    /** The agents whose votes the counts hold (the survivors), in roster order; after unmasking. */
    List<String> voters() {
        return names(aggregator.survivors());
    }

    /**
     * Selects the round's global masks from the unmasked counts, one decoder layer at a time, exactly as the
     * clear path selects from folded masks ({@link VoteAccumulator#foldCounts}); no agent's distance to the
     * consensus can be measured, so the result has no agreement and excludes nobody.
     *
     * @param roundWeights every tensor of the round with its weights, in the vote vector's order
     */
    LayeredVote.Result select(List<Map<String, long[]>> layers, Map<String, Long> roundWeights, SelectionSpec selection,
                              LayeredVote.LayerSink sink) throws IOException {
        Map<String, Long> offsets = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, Long> e : roundWeights.entrySet()) {
            offsets.put(e.getKey(), offset);
            offset += e.getValue();
        }
        for (Map<String, long[]> layer : layers) {
            Map<String, int[]> layerCounts = new LinkedHashMap<>();
            layer.keySet().forEach(name -> layerCounts.put(name, VoteLayout.counts(counts, offsets.get(name), Math.toIntExact(roundWeights.get(name)))));
            VoteAccumulator votes = new VoteAccumulator(layer);
            votes.foldCounts(voters(), layerCounts);
            sink.accept(votes, votes.selectAll(selection));
        }
        return new LayeredVote.Result(new AgreementReport(List.of()), List.of());
    }

    /** The neighbour graph's seed: a function of the job, its seed, the round and the roster, so every party can check it. */
    private byte[] graphSeed(List<String> roster) {
        MessageDigest sha = Digests.sha256();
        sha.update("fedprune.v1/secagg/graph".getBytes(StandardCharsets.UTF_8));
        sha.update(jobId.getBytes(StandardCharsets.UTF_8));
        sha.update(ByteBuffer.allocate(12).putLong(seed).putInt(roundIndex).array());
        roster.forEach(id -> sha.update((id + "\n").getBytes(StandardCharsets.UTF_8)));
        return sha.digest();
    }

    private int degree() {
        return spec.degreeFor(round.agentIds().size());
    }
}
