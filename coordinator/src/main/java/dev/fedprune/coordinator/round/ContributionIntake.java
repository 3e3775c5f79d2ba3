package dev.fedprune.coordinator.round;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.artifact.CorruptArtifactException;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.Contribution;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What agents send back, taken in under the job's lock: contributions verified, folded by the job's
 * method and committed (or refused with the reason), task failures re-issued to spare agents, and the
 * open round folded again from what the store has committed (after a failed commit, or at restart).
 */
final class ContributionIntake {
    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);

    private final JobLedger ledger;
    private final CoordinatorStore store;
    private final ArtifactStore artifacts;
    private final RoundScheduler scheduler;

    ContributionIntake(JobLedger ledger, ArtifactStore artifacts, RoundScheduler scheduler) {
        this.ledger = ledger;
        this.store = ledger.store;
        this.artifacts = artifacts;
        this.scheduler = scheduler;
    }

    /** See {@link RoundEngine#acceptContribution}. */
    void accept(AgentRecord agent, String taskId, Path staged, String payloadSha256, Runnable withFold) throws IOException {
        ActiveJob job = ledger.activeJobOf(ledger.taskOf(agent, taskId));
        synchronized (job) {
            // Read the task again under the job's lock: a concurrent upload for the same task may have folded it.
            TaskRecord task = ledger.taskOf(agent, taskId);
            ledger.checkOpen(job, task);
            long now = ledger.now();
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
                ledger.listener().contributionFolded(job.id, size, System.nanoTime() - foldStarted);
            } catch (InvalidProtocolBufferException e) {
                refuse(job, agent, taskId, now, size, payloadSha256, "payload: not a Contribution message: " + e.getMessage(),
                        "payload is not a Contribution message");
                ledger.listener().contributionRefused(job.id, "payload");
                throw new InvalidContributionException("payload", "not a Contribution message: " + e.getMessage());
            } catch (InvalidContributionException e) {
                refuse(job, agent, taskId, now, size, payloadSha256, e.getMessage(), e.getMessage());
                ledger.listener().contributionRefused(job.id, e.field().replaceAll("\\[.*", ""));
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
                    ledger.event(job.id, "round " + (task.roundIndex() + 1) + ": folded " + agent.name() + " (" + size + " bytes, "
                            + header.getSampleCount() + " samples)");
                });
            } catch (RuntimeException e) {
                if (job.method.multiPhase(job.round)) {
                    scheduler.abandonPhasedRound(job, "a contribution's commit failed");
                } else {
                    refoldCommitted(job);
                }
                throw e;
            }
        }
    }

    private void refuse(ActiveJob job, AgentRecord agent, String taskId, long now, long size, String payloadSha256, String error, String eventReason) {
        store.inTransaction(() -> {
            store.finishTask(taskId, "REFUSED", now, size, payloadSha256, null, error);
            ledger.event(job.id, "refused contribution of " + agent.name() + ": " + eventReason);
        });
    }

    /** See {@link RoundEngine#reportTaskFailure}. */
    RoundEngine.FailureOutcome reportFailure(AgentRecord agent, String taskId, String reason, boolean retryable) {
        ActiveJob job = ledger.activeJobOf(ledger.taskOf(agent, taskId));
        synchronized (job) {
            TaskRecord task = ledger.taskOf(agent, taskId);
            ledger.checkOpen(job, task);
            long now = ledger.now();
            String failed = "round " + (job.round + 1) + ": task " + task.id() + " of agent " + agent.name() + " failed: " + reason;
            // A multi-phase round's agents hold its keys: its tasks cannot move to another agent.
            AgentView failedAgent = AgentView.of(agent);
            AgentRecord spare = job.method.multiPhase(job.round) ? null
                    : scheduler.spareAgent(job, s -> job.method.handOver(job.round, failedAgent, AgentView.of(s))).orElse(null);
            if (spare != null) {
                String reissued = JobLedger.newTaskId();
                // The failed task and its replacement are one commit: the work is never lost nor held twice.
                store.inTransaction(() -> {
                    store.finishTask(task.id(), "FAILED", now, 0, null, null, "failed on the agent: " + reason + "; re-issued to " + spare.name() + " as " + reissued);
                    store.insertTask(new TaskRecord(reissued, job.id, job.round, spare.id(), task.kind(), "ASSIGNED", now, null, null, 0, null, null, null, job.attempt));
                    ledger.event(job.id, failed + "; re-issued to agent " + spare.name());
                });
                return RoundEngine.FailureOutcome.REISSUED;
            }
            if (retryable) {
                ledger.event(job.id, failed + "; no spare agent online, the task stays with " + agent.name() + " until the deadline");
                return RoundEngine.FailureOutcome.RETRY_LATER;
            }
            store.inTransaction(() -> {
                store.finishTask(task.id(), "FAILED", now, 0, null, null, "failed on the agent: " + reason + "; no spare agent online");
                ledger.event(job.id, failed + "; no spare agent online, the round goes on without it");
            });
            return RoundEngine.FailureOutcome.CLOSED;
        }
    }

    void recordMetrics(AgentRecord agent, String taskId, Map<String, Double> values) {
        ledger.taskOf(agent, taskId);
        store.saveMetrics(taskId, values, ledger.now());
    }

    /**
     * Folds the open round again from scratch, from the contributions the store has as folded (at
     * restart, or after a fold whose commit failed); a stored contribution found corrupt is not
     * folded and its task is issued again. Returns how many were folded.
     */
    int refoldCommitted(ActiveJob job) throws IOException {
        job.method.openRound(job.round);
        int refolded = 0;
        for (TaskRecord t : ledger.attemptTasks(job)) {
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
            ledger.event(job.id, "round " + (job.round + 1) + ": the stored contribution of " + agentName
                    + " is corrupt (its bytes no longer match their SHA-256); not folded, task issued again");
        });
    }
}
