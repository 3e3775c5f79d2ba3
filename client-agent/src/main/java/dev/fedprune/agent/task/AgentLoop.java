package dev.fedprune.agent.task;

import ai.djl.Device;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.iterative.JobStatesDirectory;
import dev.fedprune.agent.eval.LlmQualityEvaluator;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.security.SignatureRejectedException;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an enrolled agent does: heartbeat in the background, pull a task, hand it to the {@link TaskHandler}
 * of its kind, upload the contribution, report metrics, and ask again; a task that fails here is reported
 * so that the coordinator can give it to another agent. Only masks (or sparse updates) leave the node.
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
     * @param handlers        the task handlers, by kind (default: those on the class path)
     */
    public record Options(String name, LocalData data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds,
                          Supplier<EngineSelfCheck.Report> engineSelfCheck, MemoryLimit memoryLimit, TaskHandlers handlers) {
        public Options(String name, LocalData data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds) {
            this(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, EngineSelfCheck::onceForThisProcess, null,
                    TaskHandlers.discovered());
        }

        /** One data path: a JSONL calibration file for LLM pruning tasks, or a directory of IDX images for sparse training. */
        public Options(String name, Path data, boolean exitWhenIdle, long idleGraceMillis, int heartbeatSeconds) {
            this(name, LocalData.of(data), exitWhenIdle, idleGraceMillis, heartbeatSeconds);
        }

        public Options withEngineSelfCheck(Supplier<EngineSelfCheck.Report> check) {
            return new Options(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, check, memoryLimit, handlers);
        }

        public Options withMemoryLimit(MemoryLimit limit) {
            return new Options(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, engineSelfCheck, limit, handlers);
        }

        public Options withHandlers(TaskHandlers chosen) {
            return new Options(name, data, exitWhenIdle, idleGraceMillis, heartbeatSeconds, engineSelfCheck, memoryLimit, chosen);
        }
    }

    private final CoordinatorClient client;
    private final Options options;
    private final TaskContext.Agent agent;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final AtomicReference<String> currentTask = new AtomicReference<>();
    private final Set<String> refusedTasks = new HashSet<>();
    /** Tasks the coordinator's heartbeat answer called off: their work stops and nothing of them is uploaded. */
    private final Set<String> cancelledTasks = ConcurrentHashMap.newKeySet();
    private final ContributionSender sender;
    private EngineSelfCheck.Report engineCheck;
    private int tasksDone;
    /** Tasks that failed here one after the other: the back-off before the next pull grows with it. */
    private int failuresInARow;

    public AgentLoop(CoordinatorClient client, ModelCache models, Map<PruneMethod, MaskEngine> engines, Options options) {
        this(client, models, engines, new LlmQualityEvaluator(Device.cpu()), options);
    }

    public AgentLoop(CoordinatorClient client, ModelCache models, Map<PruneMethod, MaskEngine> engines,
                     QualityEvaluator evaluator, Options options) {
        this(client, models, engines, evaluator, Device.cpu(), options);
    }

    /**
     * @param engines the local pruners of mask-vote tasks, by method
     * @param device  where tasks that build their own model (sparse training's CNN) compute
     */
    public AgentLoop(CoordinatorClient client, ModelCache models, Map<PruneMethod, MaskEngine> engines,
                     QualityEvaluator evaluator, Device device, Options options) {
        this.client = client;
        this.options = options;
        this.agent = new TaskContext.Agent(options.name(), client, models, options.data(), engines, evaluator, device,
                options.memoryLimit(), new AgentScope(),
                new JobStatesDirectory(models.directory().resolve("calibration-states")));
        this.sender = new ContributionSender(options.name(), client, models.directory().resolve("uploads"), cancelledTasks::contains);
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
        // Files kept by an earlier run may be of a job that ended meanwhile, and of another engine build.
        agent.jobStates().clear("left by an earlier run of this agent");
        sender.dropUnsent();
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
                    agent.jobStates().clear("the coordinator has no unfinished job");
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
            agent.scope().close();
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
            TaskHandler handler = options.handlers().forTask(task).orElseThrow(() -> unsupported(task));
            // No message says that a job has ended: a task of another job says that the kept one is over here.
            agent.jobStates().dropAllBut(task.getJobId(), "this agent now works on another job");
            TaskContext context = new TaskContext(agent, task, () -> cancelledTasks.contains(task.getTaskId()));
            sender.send(task, handler.handle(task, context), context.metrics());
            tasksDone++;
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

    /** A task no handler of this agent takes: a newer coordinator's kind, or a kind with a spec this agent does not know for it. */
    private IllegalArgumentException unsupported(Task task) {
        log.warn("{}: no handler for {} tasks with a {} spec; this agent handles {}", options.name(), task.getKind(),
                TaskHandlers.specName(task.getSpecCase()), options.handlers().describe());
        return new IllegalArgumentException("task " + task.getTaskId() + " of kind " + task.getKind() + " with a "
                + TaskHandlers.specName(task.getSpecCase()) + " spec is not supported by this agent version");
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
}
