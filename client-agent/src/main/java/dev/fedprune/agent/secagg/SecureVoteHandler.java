package dev.fedprune.agent.secagg;

import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.prune.MaskVoteHandler;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskedVote;
import dev.fedprune.proto.v1.SecAggEnvelope;
import dev.fedprune.proto.v1.SecAggEnvelopes;
import dev.fedprune.proto.v1.SecAggKeys;
import dev.fedprune.proto.v1.SecAggReveal;
import dev.fedprune.proto.v1.SecAggTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.secagg.KeyAdvertisement;
import dev.fedprune.security.secagg.NeighbourGraph;
import dev.fedprune.security.secagg.SecAggAgent;
import dev.fedprune.security.secagg.SecAggRound;
import dev.fedprune.security.secagg.VoteLayout;
import dev.fedprune.security.secagg.VoteVector;
import dev.fedprune.wire.SecAggWire;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FedPrLLM's agent side with secure aggregation (docs/secure-aggregation.md): the four phases of one
 * round, each a task. Phase 1 makes this round's keys and signs them with the agent's identity key; phase
 * 2 checks each neighbour's certificate against the pinned CA and its signature, and seals Shamir shares
 * of this agent's secrets to each neighbour; phase 3 computes the mask vote as in the clear
 * ({@link MaskVoteHandler#vote}) and uploads it only masked; phase 4 reveals, per neighbour, the one
 * share the coordinator's survivor and dropout lists ask for. The round's secrets stay in this agent's
 * memory ({@link SecAggSessions}) and never leave it but as sealed or revealed shares.
 */
public final class SecureVoteHandler implements TaskHandler {
    private static final Logger log = LoggerFactory.getLogger(SecureVoteHandler.class);
    private final SecureRandom random = new SecureRandom();

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_SECAGG_KEYS, TaskKind.TASK_KIND_SECAGG_SHARES, TaskKind.TASK_KIND_SECAGG_MASKED_VOTE,
                TaskKind.TASK_KIND_SECAGG_UNMASK);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.PRUNE;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        SecAggSessions sessions = context.held(SecAggSessions.class, SecAggSessions::new);
        AgentIdentity identity = context.identity();
        String round = task.getJobId() + "/" + task.getRoundIndex();
        return switch (task.getKind()) {
            case TASK_KIND_SECAGG_KEYS -> {
                SecAggAgent.RoundKeys keys = SecAggAgent.RoundKeys.generate(random);
                sessions.start(round, keys);
                KeyAdvertisement ad = keys.advertise(task.getJobId(), task.getRoundIndex(), identity.agentId(), identity.privateKey());
                yield Contribution.newBuilder().setSecaggKeys(SecAggWire.keys(ad, Pem.write(identity.certificate()))).build();
            }
            case TASK_KIND_SECAGG_SHARES -> share(task, sessions.session(round), identity);
            case TASK_KIND_SECAGG_MASKED_VOTE -> maskedVote(task, sessions.session(round), context);
            case TASK_KIND_SECAGG_UNMASK -> {
                SecAggSessions.Session session = sessions.session(round);
                SecAggTaskSpec secure = task.getSecureAggregation();
                session.checkSetup(secure);
                SecAggReveal.Builder reveal = SecAggReveal.newBuilder();
                session.agent().reveal(new TreeSet<>(secure.getSurvivorsList()), new TreeSet<>(secure.getDroppedList()))
                        .forEach(s -> reveal.addShares(SecAggWire.share(s)));
                sessions.end(round);
                yield Contribution.newBuilder().setSecaggReveal(reveal).build();
            }
            default -> throw new IllegalArgumentException("task " + task.getTaskId() + ": " + task.getKind() + " is no secure-aggregation phase");
        };
    }

    /** Phase 2: the roster is fixed; neighbours' keys are checked against their certificates, and shares sealed to them. */
    private Contribution share(Task task, SecAggSessions.Session session, AgentIdentity identity) {
        SecAggTaskSpec secure = task.getSecureAggregation();
        List<String> roster = secure.getRosterList();
        int self = roster.indexOf(identity.agentId());
        if (self < 0) {
            throw new InvalidSecurityInputException("roster of round " + task.getRoundIndex(), "does not name this agent " + identity.agentId());
        }
        if (!new ArrayList<>(new TreeSet<>(roster)).equals(roster)) {
            throw new InvalidSecurityInputException("roster of round " + task.getRoundIndex(), "is not in ascending id order without repeats");
        }
        NeighbourGraph graph = NeighbourGraph.harary(roster.size(), secure.getDegree(), secure.getGraphSeed().toByteArray());
        SecAggRound round = new SecAggRound(task.getJobId(), task.getRoundIndex(), roster, graph, secure.getThreshold(),
                Math.toIntExact(secure.getNumWeights()), secure.getFieldBits());
        Map<String, SecAggKeys> byAgent = new TreeMap<>();
        secure.getKeysList().forEach(k -> byAgent.put(k.getAgentId(), k));
        Map<Integer, KeyAdvertisement> advertisements = new TreeMap<>();
        Map<Integer, PublicKey> identities = new TreeMap<>();
        for (int v : graph.neighbours(self)) {
            SecAggKeys keys = byAgent.get(roster.get(v));
            if (keys == null) {
                continue; // it did not advertise: it takes no part
            }
            X509Certificate certificate = Pem.certificate(keys.getCertificatePem(), "certificate of " + roster.get(v));
            CertificateVerifier.verify(certificate, identity.caCertificate(), Instant.now(), CertificateVerifier.Purpose.CLIENT);
            if (!CertificateVerifier.commonName(certificate).equals(roster.get(v))) {
                throw new InvalidSecurityInputException("certificate of " + roster.get(v), "names " + CertificateVerifier.commonName(certificate));
            }
            advertisements.put(v, SecAggWire.advertisement(keys));
            identities.put(v, certificate.getPublicKey());
        }
        SecAggAgent agent = new SecAggAgent(round, self, session.keys());
        SecAggEnvelopes.Builder envelopes = SecAggEnvelopes.newBuilder();
        agent.shareSecrets(advertisements, identities, random).forEach(e -> envelopes.addEnvelopes(SecAggWire.envelope(e)));
        session.shared(agent, secure);
        return Contribution.newBuilder().setSecaggEnvelopes(envelopes).build();
    }

    /** Phase 3: the neighbours' shares are opened, the vote computed as in the clear, and only its masked form uploaded. */
    private Contribution maskedVote(Task task, SecAggSessions.Session session, TaskContext context) throws IOException {
        SecAggTaskSpec secure = task.getSecureAggregation();
        session.checkSetup(secure);
        SecAggAgent agent = session.agent();
        for (SecAggEnvelope e : secure.getEnvelopesList()) {
            if (e.getTo() == agent.index()) {
                agent.receive(SecAggWire.envelope(e));
            }
        }
        MaskVoteHandler.Vote vote = MaskVoteHandler.vote(task, context, secure.getVoteKind() == TaskKind.TASK_KIND_LAYER_MASK_VOTE);
        List<String> tensors = task.getPrune().getTensorNamesList();
        List<long[]> words = new ArrayList<>();
        long[] lengths = new long[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) {
            BitMask mask = vote.masks().get(tensors.get(i));
            if (mask == null) {
                throw new IllegalStateException("the pruner returned no mask for " + tensors.get(i));
            }
            words.add(mask.words());
            lengths[i] = mask.length();
        }
        int weights = Math.toIntExact(secure.getNumWeights());
        long started = System.nanoTime();
        VoteVector masked = agent.mask(VoteVector.fromMask(VoteLayout.concatenate(words, lengths), weights, secure.getFieldBits()));
        context.metric("secagg_mask_seconds", (System.nanoTime() - started) / 1e9);
        log.info("{}: task {} round {}: vote on {} weights masked with {} neighbours", context.agentName(), task.getTaskId(),
                task.getRoundIndex() + 1, weights, agent.maskingPeers().size());
        Contribution.Builder contribution = Contribution.newBuilder().setSampleCount(vote.sampleCount())
                .setMaskedVote(MaskedVote.newBuilder().setNumWeights(weights).setFieldBits(secure.getFieldBits())
                        .setData(ByteString.copyFrom(masked.toBytes())));
        if (vote.quality() != null) {
            contribution.setPriorModelQuality(vote.quality());
        }
        return contribution.build();
    }
}
