package dev.fedprune.coordinator.round;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.ModelManifests;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.artifact.CorruptArtifactException;
import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.error.RoundClosedException;
import dev.fedprune.coordinator.fedprllm.FedPrLlmMethod;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.sparsetrain.SparseTrainingMethod;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Jdbc;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelFile;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TensorEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs every job as a persisted state machine: created, waiting for agents, round open, aggregating,
 * completed or failed. Rounds select agents with the job's seed, fold each contribution as it arrives,
 * and close when every selected agent has answered, or at the deadline when the quorum is met. A task
 * its agent reports failed goes to a spare online agent; a round that misses its quorum is opened again
 * with a fresh selection while the job's {@code roundAttempts} last.
 * Plain Java: Spring wires it in the coordinator application, simulations drive it directly.
 *
 * <p>Every accepted contribution is kept in the artifact store, so that a restarted coordinator
 * re-folds the open round and carries on where it stopped.
 */
public final class RoundEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final long RETRY_AFTER_MILLIS = 500;
    /** The state of a round between an attempt that missed its quorum and the next attempt. */
    static final String ROUND_RETRYING = "RETRYING";

    private final CoordinatorStore store;
    private final AgentRegistry agents;
    private final ArtifactStore artifacts;
    private final Path jobsDir;
    private final LongSupplier clock;
    private final EngineListener listener;
    private final Map<String, ActiveJob> active = new ConcurrentHashMap<>();
    private ScheduledExecutorService ticker;
    // What the health check reads (engine clock; -1 = none): see tickerStatus().
    private volatile long tickMillis;
    private volatile long tickerStartedAt = -1;
    private volatile long lastSuccessfulTickAt = -1;
    private volatile long tickRunningSince = -1;
    private volatile String lastTickFailure;

    /** In-memory side of a job that is not finished; guarded by its own monitor. */
    private static final class ActiveJob {
        final String id;
        final JobSpec spec;
        JobState state;
        int round;
        /** The attempt of the current round, from 1; a missed quorum with attempts left opens the round again. */
        int attempt = 1;
        long waitingSince;
        ModelManifest manifest;
        dev.fedprune.proto.v1.ModelManifest wireManifest;
        JobMethod method;
        long startedAt;

        ActiveJob(String id, JobSpec spec, JobState state, int round, long now) {
            this.id = id;
            this.spec = spec;
            this.state = state;
            this.round = round;
            this.waitingSince = now;
            this.startedAt = now;
        }
    }

    public RoundEngine(CoordinatorStore store, AgentRegistry agents, ArtifactStore artifacts, Path dataDir, LongSupplier clock,
                       EngineListener listener) {
        this.store = store;
        this.agents = agents;
        this.artifacts = artifacts;
        this.jobsDir = dataDir.resolve("jobs");
        this.clock = clock;
        this.listener = listener;
        recover();
    }

    // ------------------------------------------------------------------ operator side

    /** Validates and creates a job; the model is read and hashed on the engine's own thread. */
    public String submit(JobSpec spec) {
        if (spec.method() == JobSpec.Method.SPARSE_TRAINING) {
            SparseTrainingMethod.validate(spec);
        } else {
            checkModelDirectory(spec);
        }
        String id = "job-" + UUID.randomUUID().toString().substring(0, 8);
        long now = clock.getAsLong();
        store.inTransaction(() -> {
            store.insertJob(new JobRecord(id, spec.name(), JobSpecParser.toJson(spec), JobState.CREATED.name(), 0, 0, null, null, now, now));
            event(id, createdEvent(spec));
            // The ticker starts only a job whose row is committed.
            Jdbc.afterCommit(() -> active.put(id, new ActiveJob(id, spec, JobState.CREATED, 0, now)));
        });
        return id;
    }

    private static String createdEvent(JobSpec spec) {
        if (spec.method() == JobSpec.Method.SPARSE_TRAINING) {
            var t = spec.sparseTraining();
            return "created " + spec.name() + ": sparse training " + t.variant().label() + " of " + t.architecture().label()
                    + " at density " + t.density() + ", " + t.rounds() + " rounds, " + spec.agentsPerRound() + " agents per round";
        }
        return "created " + spec.name() + ": FedPrLLM " + spec.strategy().name().toLowerCase().replace('_', '-') + ", "
                + spec.localPruner().name().toLowerCase() + " locally, sparsity " + spec.sparsityRatio() + " " + spec.patternLabel()
                + ", " + spec.comparisonGroup().name().toLowerCase() + " comparison, " + spec.agentsPerRound() + " agents per round";
    }

    private static void checkModelDirectory(JobSpec spec) {
        Path model = Path.of(spec.modelPath());
        if (!Files.isDirectory(model)) {
            throw new InvalidJobSpecException("model", "'" + spec.modelPath() + "' is not a directory on the coordinator");
        }
        if (!Files.isRegularFile(model.resolve(ModelManifests.CONFIG))) {
            throw new InvalidJobSpecException("model", "'" + spec.modelPath() + "' has no " + ModelManifests.CONFIG);
        }
        try (Checkpoint weights = Checkpoint.open(model)) {
            if (weights.infos().stream().map(TensorInfo::name).noneMatch(dev.fedprune.aggregation.model.PrunableTensors::isPrunable)) {
                throw new InvalidJobSpecException("model", "'" + spec.modelPath() + "' has no prunable tensors (model.layers.N.{self_attn,mlp}.*_proj.weight)");
            }
        } catch (FormatException e) {
            throw new InvalidJobSpecException("model", e.getMessage());
        } catch (IOException e) {
            throw new InvalidJobSpecException("model", "cannot read the weights of '" + spec.modelPath() + "': " + e.getMessage());
        }
    }

    public void cancel(String jobId) {
        ActiveJob job = active.get(jobId);
        if (job == null) {
            JobRecord record = store.job(jobId).orElseThrow(() -> new NotFoundException("job", jobId));
            throw new RoundClosedException("job " + jobId + " is already " + record.state());
        }
        synchronized (job) {
            store.inTransaction(() -> {
                store.expireOpenTasks(jobId, job.round, clock.getAsLong(), "job cancelled");
                finishJob(job, JobState.CANCELLED, "cancelled by operator");
            });
        }
    }

    public int activeJobCount() {
        return active.size();
    }

    /** Ticks every job on a background thread. */
    public synchronized void start(long tickMillis) {
        if (ticker == null) {
            ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "fedprune-round-engine");
                t.setDaemon(true);
                return t;
            });
            this.tickMillis = tickMillis;
            tickerStartedAt = clock.getAsLong();
            ticker.scheduleWithFixedDelay(this::tickSafely, 0, tickMillis, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * The ticker as a health check sees it, times on the engine's clock.
     *
     * @param tickMillis           the interval between ticks; 0 when the ticker is not running (closed or never started)
     * @param startedAt            when the ticker was started; -1 when not running
     * @param lastSuccessfulTickAt when the last tick completed without an exception; -1 before the first
     * @param tickRunningSince     when the tick in progress began; -1 between ticks
     * @param lastFailure          why the last tick failed, or null when it succeeded
     */
    public record TickerStatus(long tickMillis, long startedAt, long lastSuccessfulTickAt, long tickRunningSince, String lastFailure) {
        public boolean running() {
            return tickMillis > 0;
        }
    }

    public TickerStatus tickerStatus() {
        return new TickerStatus(tickMillis, tickerStartedAt, lastSuccessfulTickAt, tickRunningSince, lastTickFailure);
    }

    private void tickSafely() {
        tickRunningSince = clock.getAsLong();
        try {
            tick();
            lastSuccessfulTickAt = clock.getAsLong();
            lastTickFailure = null;
        } catch (RuntimeException e) {
            lastTickFailure = e.toString();
            log.error("round engine tick failed", e);
        } catch (Error e) {
            // The executor keeps an Error to itself and never ticks again: log it, and let the health check name it.
            lastTickFailure = e.toString();
            log.error("round engine ticker stopped", e);
            throw e;
        } finally {
            tickRunningSince = -1;
        }
    }

    /** Advances every active job by at most one state. */
    public void tick() {
        for (ActiveJob job : List.copyOf(active.values())) {
            synchronized (job) {
                try {
                    advance(job);
                } catch (IOException | RuntimeException e) {
                    log.error("job {} failed", job.id, e);
                    finishJob(job, JobState.FAILED, "internal error: " + e.getMessage());
                }
            }
        }
    }

    private void advance(ActiveJob job) throws IOException {
        long now = clock.getAsLong();
        switch (job.state) {
            case CREATED -> {
                load(job);
                job.state = JobState.WAITING_FOR_AGENTS;
                job.waitingSince = now;
                long prunable = job.manifest.prunableTensors().stream().mapToLong(ModelManifest.TensorEntry::elementCount).sum();
                store.inTransaction(() -> {
                    saveJob(job, null, null);
                    event(job.id, "model " + job.manifest.architecture() + " " + job.manifest.modelId().substring(0, 12) + ": "
                            + job.manifest.tensors().size() + " tensors, " + prunable + " prunable weights, " + job.method.totalRounds()
                            + " round(s); waiting for " + job.spec.agentsPerRound() + " agents");
                });
            }
            case WAITING_FOR_AGENTS -> {
                List<AgentRecord> online = agents.onlineAgents();
                if (online.size() >= job.spec.agentsPerRound()) {
                    openRound(job, online);
                } else if (job.spec.waitForAgentsSeconds() > 0 && now - job.waitingSince > job.spec.waitForAgentsSeconds() * 1000L) {
                    finishJob(job, JobState.FAILED, "only " + online.size() + " of " + job.spec.agentsPerRound()
                            + " agents online after " + job.spec.waitForAgentsSeconds() + " s");
                }
            }
            case ROUND_OPEN -> {
                RoundRecord round = store.round(job.id, job.round).orElseThrow();
                List<TaskRecord> tasks = attemptTasks(job);
                long folded = tasks.stream().filter(t -> t.state().equals("FOLDED")).count();
                boolean allAnswered = tasks.stream().noneMatch(t -> t.state().equals("ASSIGNED") || t.state().equals("PULLED"));
                boolean pastDeadline = now >= round.deadlineAt();
                // An over-selected round needs only agentsPerRound of its contributions.
                boolean enough = job.spec.overSelectedAgents() > 0 && folded >= job.spec.agentsPerRound();
                if (allAnswered || pastDeadline || enough) {
                    if (folded >= job.spec.quorum()) {
                        if (!allAnswered) {
                            store.expireOpenTasks(job.id, job.round, now, pastDeadline ? "deadline passed"
                                    : "not needed: the round has its " + job.spec.agentsPerRound() + " contributions");
                        }
                        closeRound(job, tasks);
                    } else {
                        String missed = "round " + (job.round + 1) + ": quorum not met, " + folded + " of " + job.spec.quorum() + " contributions "
                                + (pastDeadline ? "by the deadline" : "accepted");
                        // The attempt's end, and the retry or the job's failure, are one commit.
                        store.inTransaction(() -> {
                            store.expireOpenTasks(job.id, job.round, now, allAnswered ? "round failed" : "deadline passed");
                            if (job.attempt < job.spec.roundAttempts()) {
                                retryRound(job, (int) folded, missed, now);
                            } else {
                                store.updateRound(job.id, job.round, "FAILED", now, (int) folded, refusedCount(job), null);
                                finishJob(job, JobState.FAILED, missed + (job.spec.roundAttempts() > 1 ? " in attempt " + job.attempt + " of "
                                        + job.spec.roundAttempts() : ""));
                            }
                        });
                    }
                }
            }
            default -> {
                // AGGREGATING is entered and left inside closeRound; final states are removed from active.
            }
        }
    }

    private void load(ActiveJob job) throws IOException {
        if (job.spec.method() == JobSpec.Method.SPARSE_TRAINING) {
            // The coordinator builds and initialises the CNN itself from the spec: there is no model directory.
            SparseTrainingMethod method = new SparseTrainingMethod(job.spec, jobDir(job.id), artifacts);
            job.manifest = method.manifest();
            job.wireManifest = method.wireManifest();
            job.method = method;
            store.setTotalRounds(job.id, method.totalRounds());
            return;
        }
        Path modelDir = Path.of(job.spec.modelPath());
        job.manifest = ModelManifests.describe(modelDir);
        dev.fedprune.proto.v1.ModelManifest.Builder wire = dev.fedprune.proto.v1.ModelManifest.newBuilder()
                .setModelId(job.manifest.modelId()).setArchitecture(job.manifest.architecture());
        for (ModelManifest.TensorEntry t : job.manifest.tensors()) {
            TensorEntry.Builder e = TensorEntry.newBuilder().setName(t.name()).setDtype(wireDType(t.dtype()))
                    .setSha256(t.sha256()).setPrunable(t.prunable());
            for (long d : t.shape()) {
                e.addShape(d);
            }
            wire.addTensors(e);
        }
        Map<String, String> hashed = new HashMap<>();
        job.manifest.files().forEach(f -> hashed.put(f.path(), f.sha256()));
        try (var files = Files.list(modelDir)) {
            for (Path f : files.sorted().toList()) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().startsWith(".")) {
                    // The weights were hashed by the manifest; only the other files (tokenizer...) are read here.
                    String sha = hashed.containsKey(f.getFileName().toString()) ? hashed.get(f.getFileName().toString()) : Digests.sha256Hex(f);
                    ArtifactStore.Artifact a = artifacts.register(f, sha);
                    wire.addFiles(ModelFile.newBuilder().setPath(f.getFileName().toString()).setSizeBytes(a.sizeBytes())
                            .setSha256(sha).setArtifactId(a.id()));
                }
            }
        }
        job.wireManifest = wire.build();
        job.method = new FedPrLlmMethod(job.spec, job.manifest, modelDir, jobDir(job.id), artifacts);
        Files.createDirectories(jobDir(job.id));
        store.setTotalRounds(job.id, job.method.totalRounds());
    }

    private static dev.fedprune.proto.v1.DType wireDType(DType d) {
        return switch (d) {
            case F32 -> dev.fedprune.proto.v1.DType.DTYPE_F32;
            case F16 -> dev.fedprune.proto.v1.DType.DTYPE_F16;
            case BF16 -> dev.fedprune.proto.v1.DType.DTYPE_BF16;
            case F64 -> dev.fedprune.proto.v1.DType.DTYPE_F64;
            case I64 -> dev.fedprune.proto.v1.DType.DTYPE_I64;
            case I32 -> dev.fedprune.proto.v1.DType.DTYPE_I32;
            case U8 -> dev.fedprune.proto.v1.DType.DTYPE_U8;
            case BOOL -> dev.fedprune.proto.v1.DType.DTYPE_BOOL;
            default -> dev.fedprune.proto.v1.DType.DTYPE_UNSPECIFIED;
        };
    }

    private void openRound(ActiveJob job, List<AgentRecord> online) {
        List<AgentRecord> candidates = new ArrayList<>(online);
        candidates.sort(Comparator.comparing(AgentRecord::name).thenComparing(AgentRecord::id));
        java.util.Collections.shuffle(candidates, selectionRandom(job.spec.seed(), job.round, job.attempt));
        List<AgentRecord> selected = candidates.subList(0, Math.min(candidates.size(), job.spec.agentsPerRound() + job.spec.overSelectedAgents()));
        long now = clock.getAsLong();
        long deadline = now + job.spec.deadlineSeconds() * 1000L;
        job.method.openRound(job.round);
        job.state = JobState.ROUND_OPEN;
        String kind = job.method.taskTemplate(job.round).getKind().name();
        // The round, its tasks and the job's state are committed together: agents never see half a round.
        store.inTransaction(() -> {
            if (store.round(job.id, job.round).isPresent()) {
                store.reopenRound(job.id, job.round, job.attempt, now, deadline, selected.size());
            } else {
                store.insertRound(new RoundRecord(job.id, job.round, "OPEN", now, deadline, null, selected.size(), job.spec.quorum(), 0, 0, null, job.attempt));
            }
            for (AgentRecord a : selected) {
                store.insertTask(new TaskRecord(newTaskId(), job.id, job.round, a.id(), kind, "ASSIGNED", now, null, null, 0, null, null, null, job.attempt));
            }
            saveJob(job, null, null);
            event(job.id, "round " + (job.round + 1) + "/" + job.method.totalRounds() + " open"
                    + (job.spec.roundAttempts() > 1 ? " (attempt " + job.attempt + " of " + job.spec.roundAttempts() + ")" : "") + ": "
                    + selected.stream().map(AgentRecord::name).toList() + ", quorum " + job.spec.quorum()
                    + (selected.size() > job.spec.agentsPerRound() ? ", closes at " + job.spec.agentsPerRound() + " contributions" : "")
                    + ", deadline " + job.spec.deadlineSeconds() + " s");
        });
    }

    /**
     * The order agents are drawn in for one attempt of one round: the first attempt draws as the engine
     * always has (same seed, same selection), each later one differently but as reproducibly.
     */
    public static Random selectionRandom(long seed, int round, int attempt) {
        long base = seed * 1_000_003L + round;
        return new Random(attempt == 1 ? base : base + 0x9E3779B97F4A7C15L * (attempt - 1));
    }

    private static String newTaskId() {
        return "task-" + UUID.randomUUID();
    }

    /** The tasks of the current attempt of the job's round: those of abandoned attempts never count again. */
    private List<TaskRecord> attemptTasks(ActiveJob job) {
        return store.tasks(job.id, job.round).stream().filter(t -> t.attempt() == job.attempt).toList();
    }

    /**
     * The round missed its quorum and has attempts left: it waits for agents again and opens with a fresh
     * selection. Contributions folded in this attempt are not carried over (the next attempt folds afresh).
     */
    private void retryRound(ActiveJob job, int folded, String missed, long now) {
        int refused = refusedCount(job);
        int failedAttempt = job.attempt;
        job.attempt++;
        job.state = JobState.WAITING_FOR_AGENTS;
        job.waitingSince = now;
        store.inTransaction(() -> {
            store.updateRound(job.id, job.round, ROUND_RETRYING, now, folded, refused, null);
            saveJob(job, null, null);
            event(job.id, missed + " in attempt " + failedAttempt + " of " + job.spec.roundAttempts() + "; round " + (job.round + 1)
                    + " opens again with a fresh selection (attempt " + job.attempt + ") once " + job.spec.agentsPerRound() + " agents are online");
        });
    }

    private void closeRound(ActiveJob job, List<TaskRecord> tasks) throws IOException {
        job.state = JobState.AGGREGATING;
        saveJob(job, null, null);
        long started = clock.getAsLong();
        Map<String, String> payloadOf = new LinkedHashMap<>();
        for (TaskRecord t : tasks) {
            if (t.state().equals("FOLDED")) {
                payloadOf.put(t.agentId(), t.payloadSha256());
            }
        }
        Map<String, Object> summary = job.method.closeRound(job.round,
                agentId -> ContributionFile.open(artifacts.verifiedPath(ArtifactStore.idOf(payloadOf.get(agentId)))));
        namesForAgentIds(summary);
        Map<String, Object> quality = RoundQuality.summarize(
                tasks.stream().filter(t -> t.state().equals("FOLDED")).map(t -> store.metrics(t.id())).toList(), job.round);
        if (quality != null) {
            summary.put("quality", quality);
        }
        long now = clock.getAsLong();
        summary.put("aggregationMillis", now - started);
        int folded = (int) tasks.stream().filter(t -> t.state().equals("FOLDED")).count();
        String summaryJson = JSON.writeValueAsString(summary);
        String aggregated = "round " + (job.round + 1) + "/" + job.method.totalRounds() + " aggregated from " + folded + " agents in " + (now - started) + " ms"
                + (quality == null ? "" : String.format(Locale.ROOT, "; %s of the model after %d round(s): %.4f", quality.get("metric"),
                job.round, (Double) quality.get("value")));
        if (job.round + 1 < job.method.totalRounds()) {
            // The closed round and the job moving on to the next are one commit.
            store.inTransaction(() -> {
                store.updateRound(job.id, job.round, "CLOSED", now, folded, refusedCount(job), summaryJson);
                event(job.id, aggregated);
                job.round++;
                job.state = JobState.WAITING_FOR_AGENTS;
                job.waitingSince = now;
                saveJob(job, null, null);
            });
            return;
        }
        Path resultDir = jobDir(job.id).resolve("result");
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("jobId", job.id);
        report.put("name", job.spec.name());
        report.put("spec", JSON.readTree(JobSpecParser.toJson(job.spec)));
        report.put("modelId", job.manifest.modelId());
        report.putAll(job.method.finish(resultDir));
        report.put("rounds", roundReport(job));
        report.put("wallMillis", clock.getAsLong() - job.startedAt);
        Files.writeString(resultDir.resolve("report.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report));
        // The results are on disk before the job is committed as completed: a restart in between aggregates again.
        job.state = JobState.COMPLETED;
        store.inTransaction(() -> {
            store.updateRound(job.id, job.round, "CLOSED", now, folded, refusedCount(job), summaryJson);
            event(job.id, aggregated);
            saveJob(job, null, resultDir.toAbsolutePath().toString());
            event(job.id, "completed: overall sparsity " + report.get("overallSparsity") + "; pruned model, global mask and report in " + resultDir.toAbsolutePath());
        });
        active.remove(job.id);
    }

    /** Operators read agent names: replace agent ids in a round summary's agreement and exclusions. */
    @SuppressWarnings("unchecked")
    private void namesForAgentIds(Map<String, Object> summary) {
        Map<String, String> names = new LinkedHashMap<>();
        store.agents().forEach(a -> names.put(a.id(), a.name()));
        if (summary.get("agreement") instanceof Map<?, ?> byId) {
            Map<String, Object> byName = new java.util.TreeMap<>();
            ((Map<String, Object>) byId).forEach((id, v) -> byName.put(names.getOrDefault(id, id), v));
            summary.put("agreement", byName);
        }
        if (summary.get("excluded") instanceof List<?> ids) {
            summary.put("excluded", ids.stream().map(id -> names.getOrDefault(String.valueOf(id), String.valueOf(id))).toList());
        }
    }

    private List<Map<String, Object>> roundReport(ActiveJob job) {
        List<Map<String, Object>> rounds = new ArrayList<>();
        for (RoundRecord r : store.rounds(job.id)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("round", r.roundIndex());
            m.put("state", r.state());
            m.put("attempt", r.attempt());
            m.put("folded", r.folded());
            m.put("refused", r.refused());
            if (r.summary() != null) {
                JsonNode quality = JSON.readTree(r.summary()).get("quality");
                if (quality != null) {
                    m.put("quality", quality);
                }
            }
            List<Map<String, Object>> tasks = new ArrayList<>();
            for (TaskRecord t : store.tasks(job.id, r.roundIndex())) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("agent", store.agent(t.agentId()).map(AgentRecord::name).orElse(t.agentId()));
                tm.put("attempt", t.attempt());
                tm.put("state", t.state());
                tm.put("bytesUp", t.bytesUp());
                tm.put("sampleCount", t.sampleCount());
                if (t.pulledAt() != null && t.finishedAt() != null) {
                    tm.put("contributeMillis", t.finishedAt() - t.pulledAt());
                }
                if (t.error() != null) {
                    tm.put("error", t.error());
                }
                tm.put("metrics", store.metrics(t.id()));
                tasks.add(tm);
            }
            m.put("tasks", tasks);
            rounds.add(m);
        }
        return rounds;
    }

    private int refusedCount(ActiveJob job) {
        return (int) attemptTasks(job).stream().filter(t -> t.state().equals("REFUSED")).count();
    }

    private void finishJob(ActiveJob job, JobState state, String reason) {
        job.state = state;
        store.inTransaction(() -> {
            // No task of a finished job stays open: agents would be handed it forever.
            store.expireOpenTasksOfJob(job.id, clock.getAsLong(), "job " + state.name().toLowerCase() + ": " + reason);
            saveJob(job, reason, null);
            event(job.id, state.name().toLowerCase() + ": " + reason);
        });
        active.remove(job.id);
    }

    private void saveJob(ActiveJob job, String failureReason, String resultDir) {
        store.updateJob(job.id, job.state.name(), job.round, failureReason, resultDir, clock.getAsLong());
    }

    /** Records a job event; the log line and the listeners (the dashboard's stream) follow once it is committed. */
    private void event(String jobId, String message) {
        store.addEvent(jobId, clock.getAsLong(), message);
        Jdbc.afterCommit(() -> {
            log.info("{}: {}", jobId, message);
            listener.onEvent(jobId, message);
        });
    }

    private Path jobDir(String jobId) {
        return jobsDir.resolve(jobId);
    }

    // ------------------------------------------------------------------ agent side

    /** The agent's next task, or when to ask again. */
    public PullTaskResponse pullTask(AgentRecord agent) {
        agents.heartbeat(agent.id(), "IDLE", null, null);
        PullTaskResponse.Builder response = PullTaskResponse.newBuilder().setActiveJobs(active.size());
        var open = store.openTaskOf(agent.id());
        if (open.isPresent()) {
            TaskRecord task = open.get();
            ActiveJob job = active.get(task.jobId());
            if (job != null) {
                synchronized (job) {
                    if (job.state == JobState.ROUND_OPEN && job.round == task.roundIndex()) {
                        RoundRecord round = store.round(job.id, job.round).orElseThrow();
                        store.markTaskPulled(task.id(), clock.getAsLong());
                        Task wire = job.method.taskTemplate(job.round).setTaskId(task.id()).setJobId(job.id)
                                .setRoundIndex(job.round).setDeadlineUnixMillis(round.deadlineAt()).setModel(job.wireManifest).build();
                        return response.setTask(wire).build();
                    }
                }
            }
        }
        return response.setRetryAfterMillis(retryAfterMillis()).build();
    }

    /**
     * How long an idle agent waits before asking again: half a second for a small federation, longer
     * as it grows, so that a thousand idle agents cost the coordinator about 200 polls a second.
     */
    private long retryAfterMillis() {
        return Math.max(RETRY_AFTER_MILLIS, Math.min(10_000, agents.onlineCount() * 5L));
    }

    /** The task, checked to belong to this agent. */
    public TaskRecord taskOf(AgentRecord agent, String taskId) {
        TaskRecord task = store.task(taskId).orElseThrow(() -> new NotFoundException("task", taskId));
        if (!task.agentId().equals(agent.id())) {
            throw new PermissionDeniedException("task_id: task " + taskId + " is assigned to another agent");
        }
        return task;
    }

    /** Checks that a task still accepts a contribution, before its upload is spent. */
    public void checkAccepting(AgentRecord agent, String taskId) {
        ActiveJob job = activeJobOf(taskOf(agent, taskId));
        synchronized (job) {
            checkOpen(job, taskOf(agent, taskId));
        }
    }

    /** The most bytes a contribution to this task may weigh (the job's method knows from the task). */
    public long maxContributionBytes(TaskRecord task) {
        return activeJobOf(task).method.maxContributionBytes(task.roundIndex());
    }

    private ActiveJob activeJobOf(TaskRecord task) {
        ActiveJob job = active.get(task.jobId());
        if (job == null) {
            throw new RoundClosedException("job " + task.jobId() + " is " + store.job(task.jobId()).map(JobRecord::state).orElse("gone") + "; no more contributions");
        }
        return job;
    }

    private void checkOpen(ActiveJob job, TaskRecord task) {
        if (job.state != JobState.ROUND_OPEN || job.round != task.roundIndex()) {
            throw new RoundClosedException("round " + task.roundIndex() + " of job " + job.id + " is closed (job is " + job.state + ", round " + job.round + ")");
        }
        if (!task.state().equals("ASSIGNED") && !task.state().equals("PULLED")) {
            throw new RoundClosedException("task " + task.id() + " is already " + task.state());
        }
        RoundRecord round = store.round(job.id, job.round).orElseThrow();
        if (clock.getAsLong() > round.deadlineAt()) {
            throw new RoundClosedException("round " + task.roundIndex() + " of job " + job.id + ": deadline passed");
        }
        if (job.spec.overSelectedAgents() > 0
                && attemptTasks(job).stream().filter(t -> t.state().equals("FOLDED")).count() >= job.spec.agentsPerRound()) {
            throw new RoundClosedException("round " + task.roundIndex() + " of job " + job.id + " already has its "
                    + job.spec.agentsPerRound() + " contributions (over-selected round)");
        }
    }

    /** What became of a task its agent reported failed. */
    public enum FailureOutcome {
        /** Closed as failed; the same work went to a spare agent as a new task. */
        REISSUED,
        /** No spare online and the agent may succeed later: the task stays with it until the round's deadline. */
        RETRY_LATER,
        /** No spare online and the agent cannot do it: closed as failed, the round goes on without it. */
        CLOSED
    }

    /**
     * The agent cannot finish its task. The round need not wait for the deadline: the task is re-issued to
     * an online agent that holds no task of this attempt and no open task elsewhere, drawn from the job's
     * seed, round and attempt; without one, a retryable failure leaves the task with its agent and any
     * other closes it (a round whose every task has answered closes, or misses its quorum, at the next tick).
     *
     * @throws PermissionDeniedException when the task is another agent's
     * @throws RoundClosedException      when the task no longer takes an answer (round closed, task finished, deadline passed)
     */
    public FailureOutcome reportTaskFailure(AgentRecord agent, String taskId, String reason, boolean retryable) {
        ActiveJob job = activeJobOf(taskOf(agent, taskId));
        synchronized (job) {
            TaskRecord task = taskOf(agent, taskId);
            checkOpen(job, task);
            long now = clock.getAsLong();
            String failed = "round " + (job.round + 1) + ": task " + task.id() + " of agent " + agent.name() + " failed: " + reason;
            AgentRecord spare = spareAgent(job).orElse(null);
            if (spare != null) {
                String reissued = newTaskId();
                // The failed task and its replacement are one commit: the work is never lost nor held twice.
                store.inTransaction(() -> {
                    store.finishTask(task.id(), "FAILED", now, 0, null, null, "failed on the agent: " + reason + "; re-issued to " + spare.name() + " as " + reissued);
                    store.insertTask(new TaskRecord(reissued, job.id, job.round, spare.id(), task.kind(), "ASSIGNED", now, null, null, 0, null, null, null, job.attempt));
                    event(job.id, failed + "; re-issued to agent " + spare.name());
                });
                return FailureOutcome.REISSUED;
            }
            if (retryable) {
                event(job.id, failed + "; no spare agent online, the task stays with " + agent.name() + " until the deadline");
                return FailureOutcome.RETRY_LATER;
            }
            store.inTransaction(() -> {
                store.finishTask(task.id(), "FAILED", now, 0, null, null, "failed on the agent: " + reason + "; no spare agent online");
                event(job.id, failed + "; no spare agent online, the round goes on without it");
            });
            return FailureOutcome.CLOSED;
        }
    }

    /** An online agent free to take over a task of this attempt, or none; the same online agents give the same choice. */
    private java.util.Optional<AgentRecord> spareAgent(ActiveJob job) {
        java.util.Set<String> taken = new java.util.HashSet<>();
        attemptTasks(job).forEach(t -> taken.add(t.agentId()));
        List<AgentRecord> candidates = new ArrayList<>(agents.onlineAgents().stream().filter(a -> !taken.contains(a.id())).toList());
        candidates.sort(Comparator.comparing(AgentRecord::name).thenComparing(AgentRecord::id));
        java.util.Collections.shuffle(candidates, selectionRandom(job.spec.seed(), job.round, job.attempt));
        return candidates.stream().filter(a -> store.openTaskOf(a.id()).isEmpty()).findFirst();
    }

    /**
     * Verifies and folds a complete, digest-checked upload. Nothing is changed by a contribution
     * that is refused, other than the task being marked refused with the reason. {@code withFold}
     * (the caller's own writes: the nonce spent, the upload complete) commits in the same
     * transaction as the task folded; when that transaction fails, the round in memory is folded
     * again from what is committed, so nothing is folded that the store does not have.
     */
    public void acceptContribution(AgentRecord agent, String taskId, Path staged, String payloadSha256, Runnable withFold) throws IOException {
        ActiveJob job = activeJobOf(taskOf(agent, taskId));
        synchronized (job) {
            // Read the task again under the job's lock: a concurrent upload for the same task may have folded it.
            TaskRecord task = taskOf(agent, taskId);
            checkOpen(job, task);
            long now = clock.getAsLong();
            long size = Files.size(staged);
            Contribution header;
            try (ContributionFile contribution = ContributionFile.open(staged)) {
                header = contribution.header();
                if (!header.getTaskId().equals(taskId)) {
                    throw new InvalidContributionException("task_id", "payload is for task '" + header.getTaskId() + "', uploaded for '" + taskId + "'");
                }
                if (header.hasPriorModelQuality()) {
                    RoundQuality.check(header.getPriorModelQuality());
                }
                long foldStarted = System.nanoTime();
                job.method.fold(task.roundIndex(), agent.id(), contribution);
                listener.contributionFolded(job.id, size, System.nanoTime() - foldStarted);
            } catch (InvalidProtocolBufferException e) {
                refuse(job, agent, taskId, now, size, payloadSha256, "payload: not a Contribution message: " + e.getMessage(),
                        "payload is not a Contribution message");
                listener.contributionRefused(job.id, "payload");
                throw new InvalidContributionException("payload", "not a Contribution message: " + e.getMessage());
            } catch (InvalidContributionException e) {
                refuse(job, agent, taskId, now, size, payloadSha256, e.getMessage(), e.getMessage());
                listener.contributionRefused(job.id, e.field().replaceAll("\\[.*", ""));
                throw e;
            }
            // The bytes are in the store (forced to disk) before the task is committed as folded; the agent's receipt follows the commit.
            artifacts.adopt(staged, payloadSha256);
            try {
                store.inTransaction(() -> {
                    store.finishTask(taskId, "FOLDED", now, size, payloadSha256, header.getSampleCount(), null);
                    if (header.hasPriorModelQuality()) {
                        store.saveMetrics(taskId, RoundQuality.metrics(header.getPriorModelQuality()), now);
                    }
                    withFold.run();
                    event(job.id, "round " + (task.roundIndex() + 1) + ": folded " + agent.name() + " (" + size + " bytes, "
                            + header.getSampleCount() + " samples)");
                });
            } catch (RuntimeException e) {
                refoldCommitted(job);
                throw e;
            }
        }
    }

    private void refuse(ActiveJob job, AgentRecord agent, String taskId, long now, long size, String payloadSha256, String error, String eventReason) {
        store.inTransaction(() -> {
            store.finishTask(taskId, "REFUSED", now, size, payloadSha256, null, error);
            event(job.id, "refused contribution of " + agent.name() + ": " + eventReason);
        });
    }

    public void recordMetrics(AgentRecord agent, String taskId, Map<String, Double> values) {
        taskOf(agent, taskId);
        store.saveMetrics(taskId, values, clock.getAsLong());
    }

    // ------------------------------------------------------------------ restart

    private void recover() {
        for (JobRecord record : store.jobs()) {
            JobState state = JobState.valueOf(record.state());
            if (state.isFinal()) {
                continue;
            }
            JobSpec spec;
            try {
                spec = JobSpecParser.parse(record.specJson());
            } catch (InvalidJobSpecException e) {
                // A spec stored by an older coordinator that this one refuses (a changed default, say) fails its job, not the start.
                log.error("cannot resume job {}: its stored spec is refused: {}", record.id(), e.getMessage());
                store.updateJob(record.id(), JobState.FAILED.name(), record.currentRound(),
                        "cannot resume after restart: stored spec refused: " + e.getMessage(), null, clock.getAsLong());
                continue;
            }
            ActiveJob job = new ActiveJob(record.id(), spec, state, record.currentRound(), clock.getAsLong());
            RoundRecord round = state == JobState.CREATED ? null : store.round(job.id, job.round).orElse(null);
            if (round != null) {
                job.attempt = round.attempt();
                if (round.state().equals(ROUND_RETRYING)) {
                    // The attempt missed its quorum (perhaps just before the stop): the next one waits for agents.
                    job.attempt++;
                    job.state = state = JobState.WAITING_FOR_AGENTS;
                }
            }
            try {
                if (state != JobState.CREATED) {
                    load(job);
                    job.method.restoreClosedRounds(job.round);
                }
                if (state == JobState.ROUND_OPEN || state == JobState.AGGREGATING) {
                    int refolded = refoldCommitted(job);
                    job.state = JobState.ROUND_OPEN;
                    event(job.id, "resumed after restart: round " + (job.round + 1) + (job.attempt > 1 ? " (attempt " + job.attempt + ")" : "")
                            + " re-folded " + refolded + " stored contributions");
                }
                active.put(job.id, job);
            } catch (IOException | RuntimeException e) {
                log.error("cannot resume job {}", record.id(), e);
                store.updateJob(record.id(), JobState.FAILED.name(), record.currentRound(), "cannot resume after restart: " + e.getMessage(), null, clock.getAsLong());
            }
        }
    }

    /**
     * Folds the open round again from scratch, from the contributions the store has as folded (at
     * restart, or after a fold whose commit failed); a stored contribution found corrupt is not
     * folded and its task is issued again. Returns how many were folded.
     */
    private int refoldCommitted(ActiveJob job) throws IOException {
        job.method.openRound(job.round);
        int refolded = 0;
        for (TaskRecord t : attemptTasks(job)) {
            if (t.state().equals("FOLDED")) {
                Path stored;
                try {
                    stored = artifacts.verifiedPath(ArtifactStore.idOf(t.payloadSha256()));
                } catch (CorruptArtifactException e) {
                    reissueCorrupt(job, t, e);
                    continue;
                }
                try (ContributionFile c = ContributionFile.open(stored)) {
                    job.method.fold(job.round, t.agentId(), c);
                }
                refolded++;
            }
        }
        return refolded;
    }

    /** A folded contribution whose stored bytes are corrupt is not folded: its blob goes and its task is issued again. */
    private void reissueCorrupt(ActiveJob job, TaskRecord task, CorruptArtifactException e) throws IOException {
        log.error("job {}: {}; task {} of agent {} is issued again", job.id, e.getMessage(), task.id(), task.agentId());
        artifacts.discard(e.id());
        String agentName = store.agent(task.agentId()).map(AgentRecord::name).orElse(task.agentId());
        store.inTransaction(() -> {
            store.reissueTask(task.id(), "re-issued after restart: stored contribution " + e.getMessage().replace("artifact ", ""));
            event(job.id, "round " + (job.round + 1) + ": the stored contribution of " + agentName
                    + " is corrupt (its bytes no longer match their SHA-256); not folded, task issued again");
        });
    }

    @Override
    public synchronized void close() {
        if (ticker != null) {
            // No interrupt: H2 closes its file when a thread writing to it is interrupted, failing the commit in flight.
            ticker.shutdown();
            try {
                ticker.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ticker = null;
            tickMillis = 0;
            tickerStartedAt = -1;
        }
    }
}
