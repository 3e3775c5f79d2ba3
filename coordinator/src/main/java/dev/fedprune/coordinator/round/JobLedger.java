package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.error.RoundClosedException;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Jdbc;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the parts of the round engine share: the active jobs, the store, the clock, and the few writes
 * every part makes the same way (a job's state, its events, its end). Callers hold the job's monitor.
 */
final class JobLedger {
    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);

    final CoordinatorStore store;
    final LongSupplier clock;
    final Map<String, ActiveJob> active = new ConcurrentHashMap<>();
    private final EngineListener listener;
    private final Path jobsDir;

    JobLedger(CoordinatorStore store, LongSupplier clock, EngineListener listener, Path jobsDir) {
        this.store = store;
        this.clock = clock;
        this.listener = listener;
        this.jobsDir = jobsDir;
    }

    EngineListener listener() {
        return listener;
    }

    long now() {
        return clock.getAsLong();
    }

    Path jobDir(String jobId) {
        return jobsDir.resolve(jobId);
    }

    static String newTaskId() {
        return "task-" + UUID.randomUUID();
    }

    /** Records a job event; the log line and the listeners (the dashboard's stream) follow once it is committed. */
    void event(String jobId, String message) {
        store.addEvent(jobId, clock.getAsLong(), message);
        Jdbc.afterCommit(() -> {
            log.info("{}: {}", jobId, message);
            listener.onEvent(jobId, message);
        });
    }

    void saveJob(ActiveJob job, String failureReason, String resultDir) {
        store.updateJob(job.id, job.state.name(), job.round, failureReason, resultDir, clock.getAsLong());
    }

    void finishJob(ActiveJob job, JobState state, String reason) {
        job.state = state;
        store.inTransaction(() -> {
            // No task of a finished job stays open: agents would be handed it forever.
            store.expireOpenTasksOfJob(job.id, clock.getAsLong(), "job " + state.name().toLowerCase() + ": " + reason);
            saveJob(job, reason, null);
            event(job.id, state.name().toLowerCase() + ": " + reason);
        });
        active.remove(job.id);
    }

    /** The tasks of the current attempt of the job's round: those of abandoned attempts never count again. */
    List<TaskRecord> attemptTasks(ActiveJob job) {
        return store.tasks(job.id, job.round).stream().filter(t -> t.attempt() == job.attempt).toList();
    }

    int refusedCount(ActiveJob job) {
        return (int) attemptTasks(job).stream().filter(t -> t.state().equals("REFUSED")).count();
    }

    /** The task, checked to belong to this agent. */
    TaskRecord taskOf(AgentRecord agent, String taskId) {
        TaskRecord task = store.task(taskId).orElseThrow(() -> new NotFoundException("task", taskId));
        if (!task.agentId().equals(agent.id())) {
            throw new PermissionDeniedException("task_id: task " + taskId + " is assigned to another agent");
        }
        return task;
    }

    ActiveJob activeJobOf(TaskRecord task) {
        ActiveJob job = active.get(task.jobId());
        if (job == null) {
            throw new RoundClosedException("job " + task.jobId() + " is " + store.job(task.jobId()).map(JobRecord::state).orElse("gone") + "; no more contributions");
        }
        return job;
    }

    /** Refuses an answer to a task that no longer takes one: round closed, task finished, deadline passed, enough contributions. */
    void checkOpen(ActiveJob job, TaskRecord task) {
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
}
