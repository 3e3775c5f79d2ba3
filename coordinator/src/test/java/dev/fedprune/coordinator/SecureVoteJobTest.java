package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.fedprune.agent.eval.LlmEvaluationHandler;
import dev.fedprune.agent.prune.MaskVoteHandler;
import dev.fedprune.agent.secagg.SecureVoteHandler;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.security.pki.CertificateAuthority;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.secagg.KeyAdvertisement;
import dev.fedprune.wire.SecAggWire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * FedPrLLM with {@code secureAggregation: true}, end to end over real gRPC with enrolled agents: the global mask
 * is bit-identical to the clear path's, with and without dropouts after masking, and nothing the coordinator
 * stores or logs holds an individual agent's mask.
 */
class SecureVoteJobTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    @TempDir
    static Path dir;
    static Path model;
    static Path data;

    @BeforeAll
    static void model() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 64, 128, 4, 2, 30, 32, true, DType.F32), 5);
        data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n{\"ids\":[1,4,5]}\n");
    }

    /** Each agent prunes its own random half of every tensor (seeded by its name): votes that differ, counts that spread. */
    static MaskEngine pruner(String agent, Map<String, List<byte[]>> sent) {
        return (request, progress) -> {
            Map<String, BitMask> out = new LinkedHashMap<>();
            for (String name : request.tensorNames()) {
                int n;
                try (var checkpoint = dev.fedprune.aggregation.format.Checkpoint.open(request.modelDir())) {
                    n = Math.toIntExact(checkpoint.info(name).elementCount());
                }
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    order.add(i);
                }
                java.util.Collections.shuffle(order, new Random((agent + "/" + name).hashCode()));
                BitMask mask = new BitMask(n);
                order.subList(0, (int) (n * request.sparsityRatio())).forEach(mask::set);
                out.put(name, mask);
                sent.computeIfAbsent(agent, k -> new ArrayList<>()).add(mask.toBytes());
            }
            return out;
        };
    }

    /** A test agent's handler around the real one: the same kinds and spec. */
    interface Around extends TaskHandler {
        TaskHandler delegate();

        @Override
        default Set<TaskKind> kinds() {
            return delegate().kinds();
        }

        @Override
        default Task.SpecCase spec() {
            return delegate().spec();
        }
    }

    /** Computes and masks its vote like any agent, then goes away before uploading it. */
    record DropsAfterMasking(TaskHandler delegate) implements Around {
        @Override
        public Contribution handle(Task task, TaskContext context) throws IOException {
            Contribution answer = delegate.handle(task, context);
            if (task.getKind() == TaskKind.TASK_KIND_SECAGG_MASKED_VOTE) {
                throw new IllegalStateException("test: gone after masking, the masked vote is never sent");
            }
            return answer;
        }
    }

    /** @param masks every voting round's global mask artifact, in round order */
    record Run(JobRecord job, JsonNode summary, List<String> masks, List<TaskRecord> tasks, Path dataDir, List<String> logs, List<String> events) {
    }

    /**
     * Attaches a certificate the coordinator never issued to its keys: one for the same agent id from a CA
     * of the same name but another key, the keys signed with that certificate's key.
     */
    record ForgesItsCertificate(TaskHandler delegate) implements Around {
        @Override
        public Contribution handle(Task task, TaskContext context) throws IOException {
            Contribution answer = delegate.handle(task, context);
            if (task.getKind() != TaskKind.TASK_KIND_SECAGG_KEYS) {
                return answer;
            }
            KeyAdvertisement genuine = SecAggWire.advertisement(answer.getSecaggKeys());
            java.time.Instant now = java.time.Instant.now();
            CertificateAuthority rogue = CertificateAuthority.create("FedPrune coordinator CA", now, java.time.Duration.ofDays(1));
            java.security.KeyPair key = KeyPairs.generate();
            String agentId = context.identity().agentId();
            KeyAdvertisement forged = KeyAdvertisement.sign(task.getJobId(), task.getRoundIndex(), agentId, genuine.sharePublicKey(),
                    genuine.maskPublicKey(), key.getPrivate());
            String pem = Pem.write(rogue.issueAgent(key.getPublic(), agentId, now, java.time.Duration.ofHours(1)));
            return Contribution.newBuilder().setSecaggKeys(SecAggWire.keys(forged, pem)).build();
        }
    }

    Run runJob(String name, List<String> agents, Set<String> dropping, String extra, Map<String, List<byte[]>> sent) throws Exception {
        return runJob(name, agents, (agent, secure) -> dropping.contains(agent) ? new DropsAfterMasking(secure) : secure, extra, sent);
    }

    /** @param wrap each agent's secure-aggregation handler, by agent name */
    Run runJob(String name, List<String> agents, java.util.function.BiFunction<String, TaskHandler, TaskHandler> wrap, String extra,
               Map<String, List<byte[]>> sent) throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        root.addAppender(logged);
        Path dataDir = dir.resolve(name);
        Run run;
        try (Federation fed = new Federation(dataDir)) {
            for (String agent : agents) {
                TaskHandlers handlers = TaskHandlers.of(List.of(new MaskVoteHandler(), new LlmEvaluationHandler(),
                        wrap.apply(agent, new SecureVoteHandler())));
                fed.startAgent(dir.resolve(name + "-" + agent), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, pruner(agent, sent)),
                        new AgentLoop.Options(agent, data, true, 60_000, 1).withHandlers(handlers));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse("""
                model: %s
                localPruner: magnitude
                sparsity: 0.5
                weightScaling: true
                seed: 11
                agentsPerRound: %d
                deadlineSeconds: 60
                %s
                """.formatted(model, agents.size(), extra.contains("comparisonGroup") ? extra : extra + "\ncomparisonGroup: row")));
            JobRecord job = fed.awaitFinal(jobId, 120_000);
            var rounds = fed.node.store().rounds(jobId);
            JsonNode summary = rounds.get(0).summary() == null ? null : JSON.readTree(rounds.get(0).summary());
            List<String> events = fed.node.store().events(jobId).stream().map(e -> e.message()).toList();
            List<String> masks = new ArrayList<>();
            for (var r : rounds) {
                JsonNode s = r.summary() == null ? null : JSON.readTree(r.summary());
                if (s != null && s.has("maskArtifact")) {
                    masks.add(s.get("maskArtifact").asString());
                }
            }
            run = new Run(job, summary, masks, fed.node.store().tasksOfJob(jobId), dataDir, new ArrayList<>(), events);
        } finally {
            root.detachAppender(logged);
        }
        // Every line logged until the federation stopped; read once nothing appends any more.
        for (ILoggingEvent e : logged.list) {
            run.logs().add(e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage()));
        }
        return run;
    }

    static List<String> names(String... names) {
        return List.of(names);
    }

    @Test
    void secureGlobalMaskIsBitIdenticalToTheClearPathAndNothingStoredOrLoggedHoldsAnAgentsMask() throws Exception {
        List<String> agents = names("agent-a", "agent-b", "agent-c", "agent-d", "agent-e");
        Map<String, List<byte[]>> clearMasks = new ConcurrentHashMap<>();
        Run clear = runJob("clear", agents, Set.of(), "", clearMasks);
        Map<String, List<byte[]>> secureMasks = new ConcurrentHashMap<>();
        Run secure = runJob("secure", agents, Set.of(), "secureAggregation: true", secureMasks);
        assertEquals("COMPLETED", clear.job().state(), clear.events().toString());
        assertEquals("COMPLETED", secure.job().state(), secure.events().toString());
        // Content-addressed: the same artifact id is the same mask, bit for bit; the pruned weights (scaled by the counts) too.
        assertTrue(secure.summary().get("maskArtifact").asString().startsWith("sha256:"), secure.summary().toString());
        assertEquals(clear.summary().get("maskArtifact").asString(), secure.summary().get("maskArtifact").asString());
        assertEquals(prunedModel(clear), prunedModel(secure));
        assertEquals(Set.of("TASK_KIND_SECAGG_KEYS", "TASK_KIND_SECAGG_SHARES", "TASK_KIND_SECAGG_MASKED_VOTE", "TASK_KIND_SECAGG_UNMASK"),
                new TreeSet<>(secure.tasks().stream().map(TaskRecord::kind).toList()));
        assertTrue(secure.tasks().stream().allMatch(t -> t.state().equals("FOLDED")), secure.tasks().toString());
        assertTrue(secure.summary().get("agreement").isEmpty(), secure.summary().toString());

        // The scan finds the masks where they are: every clear vote is in the clear coordinator's store.
        assertEquals(agents.size(), clearMasks.size());
        for (var e : clearMasks.entrySet()) {
            for (byte[] mask : e.getValue()) {
                assertFalse(filesHolding(clear.dataDir(), mask).isEmpty(), "no stored file holds the clear mask of " + e.getKey());
            }
        }
        assertEquals(clearMasks.keySet(), secureMasks.keySet());
        for (var e : secureMasks.entrySet()) {
            for (byte[] mask : e.getValue()) {
                assertEquals(List.of(), filesHolding(secure.dataDir(), mask), "a stored file holds a mask of " + e.getKey());
                assertFalse(logsHold(secure, mask), "the logs hold a mask of " + e.getKey());
            }
        }
    }

    @Test
    void iterativeSecureRoundsGiveTheClearMasksLayerByLayer() throws Exception {
        List<String> agents = names("agent-a", "agent-b", "agent-c", "agent-d");
        String spec = "strategy: iterative\ncomparisonGroup: layer\nquorum: 3";
        Run clear = runJob("clear-iterative", agents, Set.of(), spec, new ConcurrentHashMap<>());
        Run secure = runJob("secure-iterative", agents, Set.of(), spec + "\nsecureAggregation: true", new ConcurrentHashMap<>());
        assertEquals("COMPLETED", clear.job().state(), clear.events().toString());
        assertEquals("COMPLETED", secure.job().state(), secure.events().toString());
        assertEquals(2, secure.masks().size());
        assertEquals(clear.masks(), secure.masks());
        assertEquals(8, secure.tasks().stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_MASKED_VOTE")).count());
    }

    @Test
    void dropoutsAfterMaskingUpToTheThresholdGiveTheClearMaskOfTheSurvivors() throws Exception {
        Map<String, List<byte[]>> sent = new ConcurrentHashMap<>();
        Run clear = runJob("clear-survivors", names("agent-a", "agent-b", "agent-c", "agent-d"), Set.of(), "", sent);
        // 7 agents, each a neighbour of the 6 others, shares 3-of-6: 3 dropouts leave every secret 3 or 4 shares.
        Run secure = runJob("secure-dropouts", names("agent-a", "agent-b", "agent-c", "agent-d", "agent-e", "agent-f", "agent-g"),
                Set.of("agent-e", "agent-f", "agent-g"), "secureAggregation: true\nsecureAggregationThreshold: 3\nquorum: 4", sent);
        assertEquals("COMPLETED", clear.job().state(), clear.events().toString());
        assertEquals("COMPLETED", secure.job().state(), secure.events().toString());
        assertEquals(clear.summary().get("maskArtifact").asString(), secure.summary().get("maskArtifact").asString());
        assertEquals(prunedModel(clear), prunedModel(secure));
        assertEquals(3, secure.tasks().stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_MASKED_VOTE") && t.state().equals("FAILED")).count());
        assertEquals(4, secure.tasks().stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_UNMASK") && t.state().equals("FOLDED")).count());
    }

    @Test
    void keysWithACertificateTheCoordinatorNeverIssuedAreRefusedBeforeAnyPeerSeesThem() throws Exception {
        Map<String, List<byte[]>> sent = new ConcurrentHashMap<>();
        Run clear = runJob("clear-honest", names("agent-a", "agent-b", "agent-c"), Set.of(), "", sent);
        Run secure = runJob("secure-forged", names("agent-a", "agent-b", "agent-c", "agent-d"),
                (agent, handler) -> agent.equals("agent-d") ? new ForgesItsCertificate(handler) : handler,
                "secureAggregation: true\nquorum: 3", sent);
        assertEquals("COMPLETED", secure.job().state(), secure.events().toString());
        List<TaskRecord> keys = secure.tasks().stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_KEYS")).toList();
        List<TaskRecord> refused = keys.stream().filter(t -> t.state().equals("REFUSED")).toList();
        assertEquals(1, refused.size(), keys.toString());
        assertTrue(refused.get(0).error().contains("secagg_keys.certificate_pem")
                && refused.get(0).error().contains("does not verify with this coordinator's CA key"), refused.get(0).error());
        // Only the three honest agents' keys were relayed, and their vote is the clear vote of the three.
        List<TaskRecord> shares = secure.tasks().stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_SHARES")).toList();
        assertEquals(3, shares.size(), shares.toString());
        assertTrue(shares.stream().noneMatch(t -> t.agentId().equals(refused.get(0).agentId())), shares.toString());
        assertEquals(clear.summary().get("maskArtifact").asString(), secure.summary().get("maskArtifact").asString());
    }

    @Test
    void dropoutsBeyondTheThresholdFailTheRoundNamingTheAgentsWithTooFewShares() throws Exception {
        Run secure = runJob("secure-too-many", names("agent-a", "agent-b", "agent-c", "agent-d", "agent-e", "agent-f", "agent-g"),
                Set.of("agent-d", "agent-e", "agent-f", "agent-g"), "secureAggregation: true\nsecureAggregationThreshold: 3\nquorum: 3",
                new ConcurrentHashMap<>());
        assertEquals("FAILED", secure.job().state());
        String reason = secure.job().failureReason();
        assertTrue(reason.startsWith("round 1: secure aggregation: too few neighbours left to unmask "), reason);
        assertTrue(reason.contains("(2 of its neighbours sent masked votes, threshold 3)"), reason);
        assertTrue(reason.contains("dropped after sharing: ["), reason);
    }

    @Test
    void anAgentWithoutSecureAggregationLeavesTooFewKeysAndTheRoundFailsSayingSo() throws Exception {
        Path dataDir = dir.resolve("old-agent");
        try (Federation fed = new Federation(dataDir)) {
            for (String agent : names("agent-a", "agent-b", "agent-old")) {
                // An agent of an earlier version: no handler for the secure phases, it reports the task as not for it.
                List<TaskHandler> handlers = agent.equals("agent-old") ? List.of(new MaskVoteHandler()) : List.of(new MaskVoteHandler(), new SecureVoteHandler());
                fed.startAgent(dir.resolve("old-" + agent), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, pruner(agent, new ConcurrentHashMap<>())),
                        new AgentLoop.Options(agent, data, true, 60_000, 1).withHandlers(TaskHandlers.of(handlers)));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse("model: %s\nlocalPruner: magnitude\nsparsity: 0.5\nagentsPerRound: 3\n"
                    .formatted(model) + "secureAggregation: true\n"));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            assertEquals("FAILED", job.state());
            assertEquals("round 1: secure aggregation: only 2 agents advertised keys, need 3 (the quorum, at least 3)", job.failureReason());
        }
    }

    /** Holds every masked-vote task until the test lets go, then stops it without an answer. */
    record HoldsMaskedVote(TaskHandler delegate, java.util.concurrent.atomic.AtomicBoolean released) implements Around {
        @Override
        public Contribution handle(Task task, TaskContext context) throws IOException {
            if (task.getKind() != TaskKind.TASK_KIND_SECAGG_MASKED_VOTE) {
                return delegate.handle(task, context);
            }
            while (!released.get()) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            throw new dev.fedprune.agent.task.TaskCancelledException(task.getTaskId());
        }
    }

    @Test
    void aCoordinatorRestartDuringASecureRoundFailsTheAttemptSayingSo() throws Exception {
        Path dataDir = dir.resolve("restart");
        var released = new java.util.concurrent.atomic.AtomicBoolean();
        String jobId;
        try (Federation fed = new Federation(dataDir)) {
            for (String agent : names("agent-a", "agent-b", "agent-c")) {
                TaskHandlers handlers = TaskHandlers.of(List.of(new MaskVoteHandler(), new HoldsMaskedVote(new SecureVoteHandler(), released)));
                fed.startAgent(dir.resolve("restart-" + agent), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, pruner(agent, new ConcurrentHashMap<>())),
                        new AgentLoop.Options(agent, data, true, 60_000, 1).withHandlers(handlers));
            }
            jobId = fed.node.engine().submit(JobSpecParser.parse("model: %s\nlocalPruner: magnitude\nsparsity: 0.5\nagentsPerRound: 3\n"
                    .formatted(model) + "secureAggregation: true\n"));
            long end = System.currentTimeMillis() + 60_000;
            while (fed.node.store().tasksOfJob(jobId).stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_MASKED_VOTE") && t.pulledAt() != null).count() < 3) {
                assertTrue(System.currentTimeMillis() < end, fed.node.store().events(jobId).toString());
                Thread.sleep(50);
            }
            released.set(true);
        }
        try (Federation fed = new Federation(dataDir)) {
            JobRecord job = fed.awaitFinal(jobId, 30_000);
            assertEquals("FAILED", job.state());
            assertTrue(job.failureReason().startsWith("round 1: the coordinator restarted during this multi-phase round, whose keys"), job.failureReason());
            List<TaskRecord> masked = fed.node.store().tasksOfJob(jobId).stream().filter(t -> t.kind().equals("TASK_KIND_SECAGG_MASKED_VOTE")).toList();
            assertEquals(3, masked.size());
            assertTrue(masked.stream().allMatch(t -> t.state().equals("EXPIRED") && t.error().contains("coordinator restarted")), masked.toString());
        }
    }

    private static String prunedModel(Run run) throws IOException {
        Path file = run.dataDir().resolve("jobs").resolve(run.job().id()).resolve("result").resolve("global-mask.safetensors");
        return dev.fedprune.aggregation.format.Digests.sha256Hex(Files.readAllBytes(file)) + " "
                + dev.fedprune.aggregation.format.Digests.sha256Hex(Files.readAllBytes(run.dataDir().resolve("jobs").resolve(run.job().id())
                .resolve("rounds").resolve("0").resolve("pruned.safetensors")));
    }

    /** Every file under the coordinator's data directory (database, artifact store, job directories) that holds these bytes. */
    private static List<Path> filesHolding(Path root, byte[] needle) throws IOException {
        String wanted = new String(needle, StandardCharsets.ISO_8859_1);
        List<Path> holding = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                if (new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains(wanted)) {
                    holding.add(f);
                }
            }
        }
        return holding;
    }

    private static boolean logsHold(Run run, byte[] mask) {
        String hex = HexFormat.of().formatHex(mask);
        String base64 = Base64.getEncoder().encodeToString(mask);
        String raw = new String(mask, StandardCharsets.ISO_8859_1);
        return Stream.concat(run.logs().stream(), run.events().stream()).anyMatch(line -> line.contains(hex) || line.contains(base64)
                || line.contains(raw) || line.toLowerCase(java.util.Locale.ROOT).contains(hex.substring(0, 64)));
    }
}
