package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.error.RoundClosedException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.method.CertificateIdentity;
import dev.fedprune.coordinator.method.MethodRegistry;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Jdbc;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every job as a persisted state machine: created, waiting for agents, round open, aggregating,
 * completed or failed. Rounds select agents with the job's seed, fold each contribution as it arrives,
 * and close when every selected agent has answered, or at the deadline when the quorum is met. A task
 * its agent reports failed goes to a spare online agent; a round that misses its quorum is opened again
 * with a fresh selection while the job's {@code roundAttempts} last.
 * Plain Java: Spring wires it in the coordinator application, simulations drive it directly.
 *
 * <p>This class is the engine's face (operators, agents, the ticker); the work is done by its parts:
 * {@link RoundScheduler} (rounds and agent selection), {@link ContributionIntake} (contributions under
 * the job's lock), {@link JobReports} (round summaries and the job report) and {@link EngineRecovery}
 * (restart). What a round asks and how it aggregates is the job's {@link JobMethod}, created by the
 * {@link dev.fedprune.coordinator.method.MethodProvider} its spec names. Every accepted contribution is
 * kept in the artifact store, so that a restarted coordinator re-folds the open round and carries on.
 */
public final class RoundEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);
    private static final long RETRY_AFTER_MILLIS = 500;

    private final CoordinatorStore store;
    private final AgentRegistry agents;
    private final LongSupplier clock;
    private final JobLedger ledger;
    private final RoundScheduler scheduler;
    private final ContributionIntake intake;
    private final Map<String, ActiveJob> active;
    private ScheduledExecutorService ticker;
    // What the health check reads (engine clock; -1 = none): see tickerStatus().
    private volatile long tickMillis;
    private volatile long tickerStartedAt = -1;
    private volatile long lastSuccessfulTickAt = -1;
    private volatile long tickRunningSince = -1;
    private volatile String lastTickFailure;

    /** An engine without a PKI: methods that must check an agent's certificate refuse it (tests of other parts). */
    public RoundEngine(CoordinatorStore store, AgentRegistry agents, ArtifactStore artifacts, Path dataDir, LongSupplier clock,
                       EngineListener listener) {
        this(store, agents, artifacts, CertificateIdentity.NONE, dataDir, clock, listener);
    }

    /** @param certificates the coordinator's PKI, for methods that check certificates agents pass to each other */
    public RoundEngine(CoordinatorStore store, AgentRegistry agents, ArtifactStore artifacts, CertificateIdentity certificates, Path dataDir,
                       LongSupplier clock, EngineListener listener) {
        this.store = store;
        this.agents = agents;
        this.clock = clock;
        this.ledger = new JobLedger(store, clock, listener, dataDir.resolve("jobs"));
        this.active = ledger.active;
        this.scheduler = new RoundScheduler(ledger, agents, artifacts, certificates, new JobReports(ledger, artifacts));
        this.intake = new ContributionIntake(ledger, artifacts, scheduler);
        EngineRecovery.recover(ledger, scheduler, intake);
    }

    // ------------------------------------------------------------------ operator side

    /** Validates and creates a job; the model is read and hashed on the engine's own thread. */
    public String submit(JobSpec spec) {
        MethodRegistry.checkInputs(spec);
        String id = "job-" + UUID.randomUUID().toString().substring(0, 8);
        long now = clock.getAsLong();
        store.inTransaction(() -> {
            store.insertJob(new JobRecord(id, spec.name(), JobSpecParser.toJson(spec), JobState.CREATED.name(), 0, 0, null, null, now, now));
            ledger.event(id, "created " + spec.name() + ": " + MethodRegistry.describe(spec));
            // The ticker starts only a job whose row is committed.
            Jdbc.afterCommit(() -> active.put(id, new ActiveJob(id, spec, JobState.CREATED, 0, now)));
        });
        return id;
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
                ledger.finishJob(job, JobState.CANCELLED, "cancelled by operator");
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
                    scheduler.advance(job);
                } catch (IOException | RuntimeException e) {
                    log.error("job {} failed", job.id, e);
                    ledger.finishJob(job, JobState.FAILED, "internal error: " + e.getMessage());
                } catch (OutOfMemoryError e) {
                    // One job's aggregation outgrew the heap; what it held is garbage now. Fail that job and
                    // keep ticking the others rather than let the ticker die.
                    log.error("job {} failed: out of memory (max heap {} MiB)", job.id, Runtime.getRuntime().maxMemory() >> 20, e);
                    ledger.finishJob(job, JobState.FAILED, "out of memory in round " + job.round + " with a maximum heap of "
                            + (Runtime.getRuntime().maxMemory() >> 20) + " MiB; restart the coordinator with a larger -Xmx and resubmit");
                }
            }
        }
    }

    /**
     * The order agents are drawn in for one attempt of one round: the first attempt draws as the engine
     * always has (same seed, same selection), each later one differently but as reproducibly.
     */
    public static Random selectionRandom(long seed, int round, int attempt) {
        return RoundScheduler.selectionRandom(seed, round, attempt);
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
                        Task wire = job.method.taskTemplate(job.round, AgentView.of(agent)).setTaskId(task.id()).setJobId(job.id)
                                .setRoundIndex(job.round).setDeadlineUnixMillis(round.deadlineAt()).setModel(job.method.wireManifest()).build();
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
        return ledger.taskOf(agent, taskId);
    }

    /** Checks that a task still accepts a contribution, before its upload is spent. */
    public void checkAccepting(AgentRecord agent, String taskId) {
        ActiveJob job = ledger.activeJobOf(ledger.taskOf(agent, taskId));
        synchronized (job) {
            ledger.checkOpen(job, ledger.taskOf(agent, taskId));
        }
    }

    /** The most bytes a contribution to this task may weigh (the job's method knows from the task). */
    public long maxContributionBytes(TaskRecord task) {
        return ledger.activeJobOf(task).method.maxContributionBytes(task.roundIndex());
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
        return intake.reportFailure(agent, taskId, reason, retryable);
    }

    /**
     * Verifies and folds a complete, digest-checked upload. Nothing is changed by a contribution
     * that is refused, other than the task being marked refused with the reason. {@code withFold}
     * (the caller's own writes: the nonce spent, the upload complete) commits in the same
     * transaction as the task folded; when that transaction fails, the round in memory is folded
     * again from what is committed, so nothing is folded that the store does not have.
     */
    public void acceptContribution(AgentRecord agent, String taskId, Path staged, String payloadSha256, Runnable withFold) throws IOException {
        intake.accept(agent, taskId, staged, payloadSha256, withFold);
    }

    public void recordMetrics(AgentRecord agent, String taskId, Map<String, Double> values) {
        intake.recordMetrics(agent, taskId, values);
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
