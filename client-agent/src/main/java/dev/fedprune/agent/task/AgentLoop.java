package dev.fedprune.agent.task;

import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.iterative.JobStates;
import dev.fedprune.agent.iterative.JobStatesDirectory;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.agent.train.SparseTrainingWorker;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.EncodedMask;
import dev.fedprune.aggregation.format.MaskCodec;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorMask;
import dev.fedprune.security.SignatureRejectedException;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an enrolled agent does: heartbeat in the background, pull a task, compute the contribution on
 * local data, upload it, report metrics, and ask again. Only masks (or sparse updates) leave the node.
 * Before the first task it checks the tensor engine against plain-Java layer math; an engine that fails
 * the check computes nothing, so nothing it would have computed is uploaded.
 */
public final class AgentLoop {
    private static final Logger log = LoggerFactory.getLogger(AgentLoop.class);

    /** The metric a task refused for a failed engine self-check is reported with (value 1). */
    public static final String ENGINE_SELF_CHECK_FAILED = "engine_self_check_failed";
    /** The coordinator hands a pulled task back until its round closes: a refused one is asked for again this much later. */
    static final long REFUSED_TASK_PAUSE_MILLIS = 5_000;
    /** The coordinator takes failure reasons of at most this many characters. */
    static final int MAX_FAILURE_REASON_CHARS = 500;

    /**
     * @param data            the agent's local data, per kind of job (see {@link LocalData})
     * @param exitWhenIdle    stop once the coordinator reports no unfinished job (after having seen one, or after
     *                        {@code idleGraceMillis} without any)
     * @param engineSelfCheck the engine self-check, asked once, before the first task (default: the real one,
     *                        once per process)
     * @param memoryLimit     LLM tasks whose model needs more are refused before the download; null: no limit
     */
    public record Options(String name, LocalData data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds,
                          Supplier<EngineSelfCheck.Report> engineSelfCheck, MemoryLimit memoryLimit) {
        public Options(String name, LocalData data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds) {
            this(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, EngineSelfCheck::onceForThisProcess, null);
        }

        /** One data path: a JSONL calibration file for LLM pruning tasks, or a directory of IDX images for sparse training. */
        public Options(String name, Path data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds) {
            this(name, LocalData.of(data), exitWhenIdle, idleGraceMillis, heartbeatSeconds);
        }

        public Options withEngineSelfCheck(Supplier<EngineSelfCheck.Report> check) {
            return new Options(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, check, memoryLimit);
        }

        public Options withMemoryLimit(MemoryLimit limit) {
            return new Options(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, engineSelfCheck, limit);
        }
    }

    private final CoordinatorClient client;
    private final ModelCache models;
    private final Map<LocalPruneMethod, MaskEngine> engines;
    private final QualityEvaluator evaluator;
    private final Options options;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final AtomicReference<String> currentTask = new AtomicReference<>();
    private final SparseTrainingWorker training;
    /** Calibration states kept between the rounds of an iterative job (work directory's calibration-states/). */
    private final JobStatesDirectory keptStates;
    private final Set<String> refusedTasks = new HashSet<>();
    /** Tasks the coordinator's heartbeat answer called off: their work stops and nothing of them is uploaded. */
    private final Set<String> cancelledTasks = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private EngineSelfCheck.Report engineCheck;
    private int tasksDone;
    /** Tasks that failed here one after the other: the back-off before the next pull grows with it. */
    private int failuresInARow;

    public AgentLoop(CoordinatorClient client, ModelCache models, Map<LocalPruneMethod, MaskEngine> engines, Options options) {
        this(client, models, engines, defaultEvaluator(), options);
    }

    public AgentLoop(CoordinatorClient client, ModelCache models, Map<LocalPruneMethod, MaskEngine> engines,
                     QualityEvaluator evaluator, Options options) {
        this(client, models, engines, evaluator, ai.djl.Device.cpu(), options);
    }

    /** @param trainingDevice where sparse training jobs build and train their CNN */
    public AgentLoop(CoordinatorClient client, ModelCache models, Map<LocalPruneMethod, MaskEngine> engines,
                     QualityEvaluator evaluator, ai.djl.Device trainingDevice, Options options) {
        this.client = client;
        this.models = models;
        this.engines = Map.copyOf(engines);
        this.evaluator = evaluator;
        this.options = options;
        this.training = new SparseTrainingWorker(client, options.name(), options.data(), models.directory().resolve("training"),
                trainingDevice);
        this.keptStates = new JobStatesDirectory(models.directory().resolve("calibration-states"));
    }

    public void stop() {
        stopped.set(true);
    }

    public int tasksDone() {
        return tasksDone;
    }

    /** Runs until stopped, or until idle when asked to exit then. */
    public void run() {
        ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "heartbeat-" + options.name());
            t.setDaemon(true);
            return t;
        });
        heartbeats.scheduleWithFixedDelay(this::heartbeat, options.heartbeatSeconds(), options.heartbeatSeconds(), TimeUnit.SECONDS);
        long idleSince = System.currentTimeMillis();
        boolean sawJob = false;
        // States kept by an earlier run may be of a job that ended meanwhile, and of another engine build.
        keptStates.clear("left by an earlier run of this agent");
        try {
            while (!stopped.get()) {
                PullTaskResponse response;
                try {
                    response = client.pullTask();
                } catch (SignatureRejectedException e) {
                    // A task the coordinator did not sign is never worked on.
                    log.error("{}: task refused: {}", options.name(), e.getMessage());
                    sleep(1_000);
                    continue;
                } catch (StatusRuntimeException e) {
                    if (stopped.get() || Thread.currentThread().isInterrupted()) {
                        return;
                    }
                    if (e.getStatus().getCode() == io.grpc.Status.Code.UNAUTHENTICATED) {
                        // Revoked or expired: retrying cannot help, only a new enrollment can.
                        log.error("{}: the coordinator refuses this agent's identity ({}); enroll again with a new token",
                                options.name(), e.getStatus().getDescription());
                        return;
                    }
                    // The retries are spent (coordinator down for a while): keep the agent alive and ask again later.
                    log.error("{}: cannot reach the coordinator: {}; trying again in 30 s", options.name(), e.getStatus());
                    sleep(30_000);
                    continue;
                }
                if (response.hasTask()) {
                    sawJob = true;
                    if (engineTrusted(response.getTask())) {
                        if (runTask(response.getTask())) {
                            failuresInARow = 0;
                        } else {
                            // Reported to the coordinator; the next pull may hand the same task back (a retryable
                            // failure with no spare agent): wait, longer after each failure in a row.
                            pause(CoordinatorClient.backoffMillis(++failuresInARow));
                        }
                    } else {
                        sleep(REFUSED_TASK_PAUSE_MILLIS);
                    }
                    idleSince = System.currentTimeMillis();
                    continue;
                }
                if (response.getActiveJobs() > 0) {
                    sawJob = true;
                    idleSince = System.currentTimeMillis();
                } else {
                    keptStates.clear("the coordinator has no unfinished job");
                }
                if (response.getActiveJobs() == 0 && options.exitWhenIdle()
                        && (sawJob || System.currentTimeMillis() - idleSince > options.idleGraceMillis())) {
                    log.info("{}: no unfinished jobs on the coordinator; exiting after {} task(s)", options.name(), tasksDone);
                    return;
                }
                sleep(response.getRetryAfterMillis());
            }
        } finally {
            heartbeats.shutdownNow();
            training.close();
        }
    }

    /**
     * Whether the engine may compute this task: every task this agent works on (CNN training, LLM pruning
     * and evaluation) runs on the tensor engine, so all of them wait for the self-check, which runs before
     * the first and is remembered once it has a verdict. A refused task is logged once, naming the CPU and
     * the op that failed, and reported to the coordinator as the metric {@value #ENGINE_SELF_CHECK_FAILED};
     * it is neither computed nor uploaded, and the coordinator expires it at the round's deadline.
     */
    private boolean engineTrusted(Task task) {
        if (engineCheck == null) {
            try {
                engineCheck = options.engineSelfCheck().get();
            } catch (RuntimeException e) {
                // No verdict to remember: the next task runs the check again.
                refuse(task, "the engine self-check could not run: " + e.getMessage(), e);
                return false;
            }
            if (engineCheck.passed()) {
                log.info("{}: {}", options.name(), engineCheck.summary());
            }
        }
        if (engineCheck.passed()) {
            return true;
        }
        refuse(task, engineCheck.summary(), null);
        return false;
    }

    private void refuse(Task task, String reason, RuntimeException cause) {
        if (!refusedTasks.add(task.getTaskId())) {
            return;
        }
        log.error("{}: task {} refused, nothing computed or uploaded: {}", options.name(), task.getTaskId(), reason, cause);
        try {
            client.reportMetrics(task, Map.of(ENGINE_SELF_CHECK_FAILED, 1.0));
        } catch (StatusRuntimeException e) {
            log.warn("{}: cannot report the refusal of task {}: {}", options.name(), task.getTaskId(), e.getStatus());
        }
    }

    private void heartbeat() {
        try {
            client.renewIfDue();
        } catch (RuntimeException e) {
            log.warn("{}: certificate renewal failed, retrying at the next heartbeat: {}", options.name(), e.getMessage());
        }
        try {
            String task = currentTask.get();
            var response = client.heartbeat(task == null ? AgentState.AGENT_STATE_IDLE : AgentState.AGENT_STATE_BUSY, task);
            for (String cancelled : response.getCancelledTaskIdsList()) {
                if (cancelledTasks.add(cancelled)) {
                    log.warn("{}: the coordinator no longer wants task {} (its round closed or its job ended): stopping it, nothing will be uploaded",
                            options.name(), cancelled);
                }
            }
        } catch (RuntimeException e) {
            log.warn("{}: heartbeat failed: {}", options.name(), e.getMessage());
        }
    }

    /** Runs one task; false when it failed here (and the failure was reported), true when done or called off. */
    private boolean runTask(Task task) {
        currentTask.set(task.getTaskId());
        try {
            JobStates kept = keepStatesFor(task);
            if (task.hasTraining()) {
                runTrainingTask(task);
                return true;
            }
            if (task.getKind() == TaskKind.TASK_KIND_EVALUATION) {
                evaluate(task);
                return true;
            }
            if (task.getKind() != TaskKind.TASK_KIND_MASK_VOTE && task.getKind() != TaskKind.TASK_KIND_LAYER_MASK_VOTE) {
                throw new IllegalArgumentException("task " + task.getTaskId() + " of kind " + task.getKind() + " is not supported by this agent version");
            }
            checkMemory(task);
            long started = System.nanoTime();
            long bytesDownBefore = models.bytesDownloaded();
            Path modelDir = models.ensure(task.getModel());
            long modelReady = System.nanoTime();
            PruneTaskSpec spec = task.getPrune();
            LocalPruneMethod method = switch (spec.getMethod()) {
                case PRUNE_METHOD_MAGNITUDE -> LocalPruneMethod.MAGNITUDE;
                case PRUNE_METHOD_WANDA -> LocalPruneMethod.WANDA;
                case PRUNE_METHOD_SPARSEGPT -> LocalPruneMethod.SPARSEGPT;
                default -> throw new IllegalArgumentException("task " + task.getTaskId() + ": unknown prune method " + spec.getMethod());
            };
            MaskEngine engine = engines.get(method);
            if (engine == null) {
                throw new IllegalArgumentException("task " + task.getTaskId() + ": this agent has no " + method + " pruner");
            }
            Map<String, BitMask> prior = new LinkedHashMap<>();
            for (String artifactId : spec.getPriorMaskArtifactIdsList()) {
                prior.putAll(downloadMask(artifactId, task));
            }
            ModelQuality quality = measure(task, modelDir, prior);
            boolean iterative = task.getKind() == TaskKind.TASK_KIND_LAYER_MASK_VOTE;
            MaskRequest request = new MaskRequest(modelDir, options.data().tokensFor(task.getJobId()), method, spec.getSparsityRatio(),
                    spec.getLocalComparisonGroup() != dev.fedprune.proto.v1.ComparisonGroup.COMPARISON_GROUP_LAYER,
                    spec.getPattern().getN(), spec.getPattern().getM(), spec.getCalibrationSamples(), spec.getSequenceLength(),
                    spec.getSeed(), spec.getTensorNamesList(), iterative ? spec.getLayerIndex() : -1, prior, kept);
            log.info("{}: task {} round {}: {} masks for {} tensors", options.name(), task.getTaskId(), task.getRoundIndex() + 1,
                    method.name().toLowerCase(), spec.getTensorNamesCount());
            Map<String, BitMask> masks = engine.computeMasks(request, LoggedProgress.steps(options.name() + ": task " + task.getTaskId() + " "));
            long computed = System.nanoTime();
            Contribution.Builder built = Contribution.newBuilder().setTaskId(task.getTaskId()).setSampleCount(sampleCount())
                    .setMasks(encode(masks));
            if (quality != null) {
                built.setPriorModelQuality(quality);
            }
            Contribution contribution = built.build();
            byte[] payload = contribution.toByteArray();
            upload(task, payload);
            long uploaded = System.nanoTime();
            tasksDone++;
            log.info("{}: task {} folded ({} bytes up, {} ms compute)", options.name(), task.getTaskId(), payload.length, (computed - modelReady) / 1_000_000);
            Map<String, Double> metrics = new LinkedHashMap<>();
            metrics.put("model_seconds", (modelReady - started) / 1e9);
            metrics.put("compute_seconds", (computed - modelReady) / 1e9);
            metrics.put("upload_seconds", (uploaded - computed) / 1e9);
            metrics.put("bytes_up", (double) payload.length);
            metrics.put("model_bytes_down", (double) (models.bytesDownloaded() - bytesDownBefore));
            client.reportMetrics(task, metrics);
            return true;
        } catch (StatusRuntimeException e) {
            if (stopped.get() || Thread.currentThread().isInterrupted()) {
                log.info("{}: stopped during task {}", options.name(), task.getTaskId());
                return true;
            }
            log.error("{}: task {} refused by the coordinator: {} {}", options.name(), task.getTaskId(), e.getStatus().getCode(), e.getStatus().getDescription());
            if (e.getStatus().getCode() == io.grpc.Status.Code.FAILED_PRECONDITION) {
                return true; // the coordinator takes no more answers for this task: nothing to report
            }
            return reportFailure(task, "coordinator answered " + e.getStatus().getCode() + ": " + e.getStatus().getDescription(),
                    CoordinatorClient.isTransient(e));
        } catch (TaskCancelledException e) {
            log.info("{}: task {} stopped: {}", options.name(), task.getTaskId(), e.getMessage());
            return true;
        } catch (TaskTooLargeException e) {
            // This agent will never fit it: reported as not retryable, so that the coordinator gives it to another.
            log.warn("{}: task {} not done: {}", options.name(), task.getTaskId(), e.getMessage());
            return stopped.get() || reportFailure(task, describe(e), false);
        } catch (LocalData.MissingLocalDataException e) {
            // Not this agent's kind of job: said once, reported, and the coordinator hands it to an agent with the data.
            log.warn("{}: task {} not done: {}", options.name(), task.getTaskId(), e.getMessage());
            return stopped.get() || reportFailure(task, describe(e), false);
        } catch (IOException | UncheckedIOException e) {
            log.error("{}: task {} failed: {}", options.name(), task.getTaskId(), e.getMessage(), e);
            return stopped.get() || reportFailure(task, describe(e), true);
        } catch (RuntimeException e) {
            log.error("{}: task {} failed: {}", options.name(), task.getTaskId(), e.getMessage(), e);
            // A stopped agent (a process going down) reports nothing: it picks the task up again when it comes back.
            return stopped.get() || reportFailure(task, describe(e), false);
        } finally {
            currentTask.set(null);
        }
    }

    /**
     * Where this task keeps calibration states, or null. No message says that a job has ended: what an agent
     * is handed next says it, so any task but a round of the iterative job whose states are kept drops them
     * (so do an evaluation task of that job, and the round of its last layer, see LayerInputCache).
     */
    private JobStates keepStatesFor(Task task) {
        if (task.getKind() == TaskKind.TASK_KIND_LAYER_MASK_VOTE) {
            return keptStates.retainOnly(task.getJobId(), task.getModel().getModelId());
        }
        keptStates.clear("this agent now works on a task of another kind or job");
        return null;
    }

    /**
     * Tells the coordinator this task failed here, so that its round need not wait for the deadline: it
     * re-issues the task to a spare agent, or (retryable, no spare online) hands it back to this agent later.
     * Returns false: the task failed, whatever the coordinator answered.
     */
    private boolean reportFailure(Task task, String reason, boolean retryable) {
        try {
            var ack = client.reportTaskFailure(task, reason, retryable);
            log.info("{}: failure of task {} reported ({})", options.name(), task.getTaskId(), ack.getOutcome());
        } catch (StatusRuntimeException e) {
            log.warn("{}: cannot report the failure of task {}: {}", options.name(), task.getTaskId(), e.getStatus());
        }
        return false;
    }

    /** One line for the coordinator's job events: the exception's kind and message, without control characters. */
    static String describe(Throwable e) {
        String text = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        text = text.replaceAll("[\\p{Cntrl}\\p{Cf}]+", " ").strip();
        return text.length() <= MAX_FAILURE_REASON_CHARS ? text : text.substring(0, MAX_FAILURE_REASON_CHARS - 1) + "…";
    }

    private void checkMemory(Task task) {
        if (options.memoryLimit() != null) {
            options.memoryLimit().check(task);
        }
    }

    /** The quality of the model the task starts from, when the task asks for it; null otherwise. */
    private ModelQuality measure(Task task, Path modelDir, Map<String, BitMask> prior) throws IOException {
        PruneTaskSpec spec = task.getPrune();
        if (spec.getEvaluationSamples() <= 0) {
            return null;
        }
        long started = System.nanoTime();
        ModelQuality q = evaluator.measure(modelDir, options.data().tokensFor(task.getJobId()), prior, spec.getEvaluationSamples(), spec.getSequenceLength(), spec.getSeed());
        log.info("{}: task {} round {}: {} {} of the global model so far on {} local samples ({} ms)", options.name(), task.getTaskId(),
                task.getRoundIndex() + 1, q.getMetric(), String.format(java.util.Locale.ROOT, "%.4f", q.getValue()), q.getSamples(),
                (System.nanoTime() - started) / 1_000_000);
        return q;
    }

    /** An evaluation task: measure the final global model on local data and send only that measurement. */
    private void evaluate(Task task) throws IOException {
        checkMemory(task);
        long started = System.nanoTime();
        long bytesDownBefore = models.bytesDownloaded();
        Path modelDir = models.ensure(task.getModel());
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (String artifactId : task.getPrune().getPriorMaskArtifactIdsList()) {
            masks.putAll(downloadMask(artifactId, task));
        }
        long ready = System.nanoTime();
        ModelQuality quality = measure(task, modelDir, masks);
        if (quality == null) {
            throw new IllegalArgumentException("task " + task.getTaskId() + ": an evaluation task with no evaluation_samples");
        }
        long computed = System.nanoTime();
        byte[] payload = Contribution.newBuilder().setTaskId(task.getTaskId()).setSampleCount(quality.getSamples())
                .setPriorModelQuality(quality).build().toByteArray();
        upload(task, payload);
        long uploaded = System.nanoTime();
        tasksDone++;
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("model_seconds", (ready - started) / 1e9);
        metrics.put("compute_seconds", (computed - ready) / 1e9);
        metrics.put("upload_seconds", (uploaded - computed) / 1e9);
        metrics.put("bytes_up", (double) payload.length);
        metrics.put("model_bytes_down", (double) (models.bytesDownloaded() - bytesDownBefore));
        client.reportMetrics(task, metrics);
    }

    /**
     * Uploads a contribution under an id derived from the task and the payload (a retry of the same bytes
     * resumes the same upload), unless the coordinator has called the task off meanwhile.
     */
    private void upload(Task task, byte[] payload) {
        if (cancelledTasks.contains(task.getTaskId())) {
            throw new TaskCancelledException(task.getTaskId());
        }
        client.upload(task, task.getTaskId() + "-" + Digests.sha256Hex(payload).substring(0, 16), payload);
    }

    /** A task of a sparse training job: train (or evaluate, or score ABNS candidates), upload, report. */
    private void runTrainingTask(Task task) throws IOException {
        log.info("{}: task {} round {}: {}", options.name(), task.getTaskId(), task.getRoundIndex() + 1, task.getKind());
        SparseTrainingWorker.Result result = training.run(task, () -> cancelledTasks.contains(task.getTaskId()));
        byte[] payload = result.contribution().toByteArray();
        long computed = System.nanoTime();
        upload(task, payload);
        tasksDone++;
        Map<String, Double> metrics = new LinkedHashMap<>(result.metrics());
        metrics.put("upload_seconds", (System.nanoTime() - computed) / 1e9);
        metrics.put("bytes_up", (double) payload.length);
        log.info("{}: task {} folded ({} bytes up)", options.name(), task.getTaskId(), payload.length);
        client.reportMetrics(task, metrics);
    }

    private Map<String, BitMask> downloadMask(String artifactId, Task task) throws IOException {
        Path file = Files.createTempFile("fedprune-mask", ".bin");
        try {
            Files.delete(file);
            client.download(artifactId, artifactId.substring(artifactId.indexOf(':') + 1), file);
            MaskSet set = MaskSet.parseFrom(Files.readAllBytes(file));
            Map<String, BitMask> masks = new LinkedHashMap<>();
            for (TensorMask m : set.getMasksList()) {
                masks.put(m.getTensorName(), MaskCodec.decode(dev.fedprune.aggregation.format.MaskEncoding.fromProtoName(m.getEncoding().name()),
                        m.getNumWeights(), m.getData().toByteArray()));
            }
            return masks;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Each mask in whichever encoding is smaller: bit-packed, or entropy-coded for sparse or dense masks. */
    static MaskSet encode(Map<String, BitMask> masks) {
        MaskSet.Builder set = MaskSet.newBuilder();
        masks.forEach((name, mask) -> {
            EncodedMask encoded = MaskCodec.encode(mask);
            set.addMasks(TensorMask.newBuilder().setTensorName(name).setNumWeights(mask.length())
                    .setEncoding(MaskEncoding.valueOf(encoded.encoding().protoName())).setData(ByteString.copyFrom(encoded.data())));
        });
        return set.build();
    }

    private long sampleCount() {
        Path tokens = options.data().tokens();
        try (var lines = Files.lines(tokens)) {
            return lines.filter(l -> !l.isBlank()).count();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + tokens, e);
        }
    }

    /** Waits, but no longer than until the loop is stopped. */
    private void pause(long millis) {
        long end = System.currentTimeMillis() + millis;
        while (!stopped.get() && System.currentTimeMillis() < end) {
            sleep(Math.min(100, end - System.currentTimeMillis()));
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(Math.max(50, millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Perplexity on the CPU, for LLM jobs that ask agents to evaluate. */
    public static QualityEvaluator defaultEvaluator() {
        return new dev.fedprune.agent.eval.LlmQualityEvaluator(ai.djl.Device.cpu());
    }

    /** The pruners this agent offers, by method. */
    public static Map<LocalPruneMethod, MaskEngine> defaultEngines() {
        MaskEngine llm = new LlmMaskEngine();
        return Map.of(LocalPruneMethod.MAGNITUDE, llm, LocalPruneMethod.WANDA, llm, LocalPruneMethod.SPARSEGPT, llm);
    }
}
