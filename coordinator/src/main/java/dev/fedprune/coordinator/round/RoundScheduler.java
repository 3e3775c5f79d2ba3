package dev.fedprune.coordinator.round;

import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.method.CertificateIdentity;
import dev.fedprune.coordinator.method.MethodRegistry;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Moves a job through its rounds: starts its method, waits for enough online agents, opens a round with a
 * seeded selection of agents, and closes it when every selected agent has answered, at the deadline with
 * the quorum met, or (over-selected) with enough contributions; a missed quorum opens the round again
 * while the job's {@code roundAttempts} last, or fails the job.
 */
final class RoundScheduler {
    /** The state of a round between an attempt that missed its quorum and the next attempt. */
    static final String ROUND_RETRYING = "RETRYING";

    private final JobLedger ledger;
    private final CoordinatorStore store;
    private final AgentRegistry agents;
    private final ArtifactStore artifacts;
    private final CertificateIdentity certificates;
    private final JobReports reports;

    RoundScheduler(JobLedger ledger, AgentRegistry agents, ArtifactStore artifacts, CertificateIdentity certificates, JobReports reports) {
        this.ledger = ledger;
        this.store = ledger.store;
        this.agents = agents;
        this.artifacts = artifacts;
        this.certificates = certificates;
        this.reports = reports;
    }

    /** Advances the job by at most one state; the caller holds its monitor. */
    void advance(ActiveJob job) throws IOException {
        long now = ledger.now();
        switch (job.state) {
            case CREATED -> {
                load(job);
                job.state = JobState.WAITING_FOR_AGENTS;
                job.waitingSince = now;
                ModelManifest manifest = job.method.manifest();
                long prunable = manifest.prunableTensors().stream().mapToLong(ModelManifest.TensorEntry::elementCount).sum();
                store.inTransaction(() -> {
                    ledger.saveJob(job, null, null);
                    ledger.event(job.id, "model " + manifest.architecture() + " " + manifest.modelId().substring(0, 12) + ": "
                            + manifest.tensors().size() + " tensors, " + prunable + " prunable weights, " + job.method.totalRounds()
                            + " round(s); waiting for " + job.spec.agentsPerRound() + " agents");
                });
            }
            case WAITING_FOR_AGENTS -> {
                List<AgentRecord> online = agents.onlineAgents();
                if (online.size() >= job.spec.agentsPerRound()) {
                    openRound(job, online);
                } else if (job.spec.waitForAgentsSeconds() > 0 && now - job.waitingSince > job.spec.waitForAgentsSeconds() * 1000L) {
                    ledger.finishJob(job, JobState.FAILED, "only " + online.size() + " of " + job.spec.agentsPerRound()
                            + " agents online after " + job.spec.waitForAgentsSeconds() + " s");
                }
            }
            case ROUND_OPEN -> closeIfDone(job, now);
            default -> {
                // AGGREGATING is entered and left inside closeRound; final states are removed from active.
            }
        }
    }

    private void closeIfDone(ActiveJob job, long now) throws IOException {
        RoundRecord round = store.round(job.id, job.round).orElseThrow();
        List<TaskRecord> tasks = phaseTasks(job);
        long folded = tasks.stream().filter(t -> t.state().equals("FOLDED")).count();
        boolean allAnswered = tasks.stream().noneMatch(t -> t.state().equals("ASSIGNED") || t.state().equals("PULLED"));
        boolean pastDeadline = now >= round.deadlineAt();
        // An over-selected round needs only agentsPerRound of its contributions.
        boolean enough = job.spec.overSelectedAgents() > 0 && folded >= job.spec.agentsPerRound();
        if (!allAnswered && !pastDeadline && !enough) {
            return;
        }
        if (job.method.multiPhase(job.round)) {
            endPhase(job, tasks, now, allAnswered, pastDeadline);
            return;
        }
        if (folded >= job.spec.quorum()) {
            if (!allAnswered) {
                store.expireOpenTasks(job.id, job.round, now, pastDeadline ? "deadline passed"
                        : "not needed: the round has its " + job.spec.agentsPerRound() + " contributions");
            }
            reports.closeRound(job, tasks);
            return;
        }
        String missed = "round " + (job.round + 1) + ": quorum not met, " + folded + " of " + job.spec.quorum() + " contributions "
                + (pastDeadline ? "by the deadline" : "accepted");
        missRound(job, (int) folded, missed, now, allAnswered ? "round failed" : "deadline passed");
    }

    /** The tasks that count now: the attempt's, or in a multi-phase round those of its current phase. */
    private List<TaskRecord> phaseTasks(ActiveJob job) {
        List<TaskRecord> tasks = ledger.attemptTasks(job);
        if (!job.method.multiPhase(job.round)) {
            return tasks;
        }
        String kind = job.method.taskTemplate(job.round).getKind().name();
        return tasks.stream().filter(t -> t.kind().equals(kind)).toList();
    }

    /** A phase of a multi-phase round has ended: the method opens the next one, closes the round or fails the attempt. */
    private void endPhase(ActiveJob job, List<TaskRecord> tasks, long now, boolean allAnswered, boolean pastDeadline) throws IOException {
        List<String> folded = tasks.stream().filter(t -> t.state().equals("FOLDED")).map(TaskRecord::agentId).toList();
        PhaseEnd end = job.method.endPhase(job.round, folded);
        if (end.outcome() == PhaseEnd.Outcome.FAIL) {
            missRound(job, folded.size(), "round " + (job.round + 1) + ": " + end.reason(), now, allAnswered ? "round failed" : "deadline passed");
            return;
        }
        if (!allAnswered) {
            store.expireOpenTasks(job.id, job.round, now, pastDeadline ? "deadline passed" : "phase ended");
        }
        if (end.outcome() == PhaseEnd.Outcome.CLOSE) {
            reports.closeRound(job, tasks);
            return;
        }
        long deadline = now + job.spec.deadlineSeconds() * 1000L;
        String kind = job.method.taskTemplate(job.round).getKind().name();
        RoundRecord round = store.round(job.id, job.round).orElseThrow();
        // The next phase's tasks and deadline are one commit: agents never see half a phase.
        store.inTransaction(() -> {
            store.reopenRound(job.id, job.round, job.attempt, round.openedAt(), deadline, end.agents().size());
            for (String agent : end.agents()) {
                store.insertTask(new TaskRecord(JobLedger.newTaskId(), job.id, job.round, agent, kind, "ASSIGNED", now, null, null, 0, null, null, null, job.attempt));
            }
            ledger.event(job.id, "round " + (job.round + 1) + ": " + folded.size() + " agents answered; next phase "
                    + kind.replace("TASK_KIND_", "").toLowerCase(java.util.Locale.ROOT) + " for " + end.agents().size() + " agents, deadline "
                    + job.spec.deadlineSeconds() + " s");
        });
    }

    /**
     * A multi-phase round cannot be folded again from the store (at restart, or after a failed commit), because
     * what its phases built (keys, shares, the masked sum) lives in the memory of the coordinator and the agents;
     * the attempt fails and the round opens again, with fresh keys, while attempts last.
     *
     * @param why what happened, for the job's events ("the coordinator restarted")
     */
    void abandonPhasedRound(ActiveJob job, String why) {
        job.state = JobState.ROUND_OPEN;
        missRound(job, 0, "round " + (job.round + 1) + ": " + why + " during this multi-phase round, whose keys and masked"
                + " votes are held in memory only", ledger.now(), why);
    }

    /** The attempt failed: the round opens again while attempts last, else the job fails; one commit. */
    private void missRound(ActiveJob job, int folded, String missed, long now, String expireReason) {
        store.inTransaction(() -> {
            store.expireOpenTasks(job.id, job.round, now, expireReason);
            if (job.attempt < job.spec.roundAttempts()) {
                retryRound(job, folded, missed, now);
            } else {
                store.updateRound(job.id, job.round, "FAILED", now, folded, ledger.refusedCount(job), null);
                ledger.finishJob(job, JobState.FAILED, missed + (job.spec.roundAttempts() > 1 ? " in attempt " + job.attempt + " of "
                        + job.spec.roundAttempts() : ""));
            }
        });
    }

    /** Creates the job's method from its spec (reading the model, publishing the initial artifacts). */
    void load(ActiveJob job) throws IOException {
        Files.createDirectories(ledger.jobDir(job.id));
        job.method = MethodRegistry.create(job.spec, ledger.jobDir(job.id), artifacts, certificates);
        store.setTotalRounds(job.id, job.method.totalRounds());
    }

    private void openRound(ActiveJob job, List<AgentRecord> online) {
        List<AgentRecord> candidates = new ArrayList<>(online);
        candidates.sort(Comparator.comparing(AgentRecord::name).thenComparing(AgentRecord::id));
        Collections.shuffle(candidates, selectionRandom(job.spec.seed(), job.round, job.attempt));
        List<AgentRecord> selected = candidates.subList(0, Math.min(candidates.size(), job.spec.agentsPerRound() + job.spec.overSelectedAgents()));
        long now = ledger.now();
        long deadline = now + job.spec.deadlineSeconds() * 1000L;
        try {
            job.method.openRound(job.round, selected.stream().map(AgentView::of).toList());
        } catch (RoundRefusedException e) {
            ledger.finishJob(job, JobState.FAILED, "round " + (job.round + 1) + " cannot open with "
                    + selected.stream().map(AgentRecord::name).toList() + ": " + e.getMessage());
            return;
        }
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
                store.insertTask(new TaskRecord(JobLedger.newTaskId(), job.id, job.round, a.id(), kind, "ASSIGNED", now, null, null, 0, null, null, null, job.attempt));
            }
            ledger.saveJob(job, null, null);
            ledger.event(job.id, "round " + (job.round + 1) + "/" + job.method.totalRounds() + " open"
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
    static Random selectionRandom(long seed, int round, int attempt) {
        long base = seed * 1_000_003L + round;
        return new Random(attempt == 1 ? base : base + 0x9E3779B97F4A7C15L * (attempt - 1));
    }

    /**
     * The round missed its quorum and has attempts left: it waits for agents again and opens with a fresh
     * selection. Contributions folded in this attempt are not carried over (the next attempt folds afresh).
     */
    private void retryRound(ActiveJob job, int folded, String missed, long now) {
        int refused = ledger.refusedCount(job);
        int failedAttempt = job.attempt;
        job.attempt++;
        job.state = JobState.WAITING_FOR_AGENTS;
        job.waitingSince = now;
        store.inTransaction(() -> {
            store.updateRound(job.id, job.round, ROUND_RETRYING, now, folded, refused, null);
            ledger.saveJob(job, null, null);
            ledger.event(job.id, missed + " in attempt " + failedAttempt + " of " + job.spec.roundAttempts() + "; round " + (job.round + 1)
                    + " opens again with a fresh selection (attempt " + job.attempt + ") once " + job.spec.agentsPerRound() + " agents are online");
        });
    }

    /**
     * An online agent free to take over a task of this attempt that {@code accepts} (the job's method agrees
     * to hand it the work), or none; the same online agents give the same choice.
     */
    Optional<AgentRecord> spareAgent(ActiveJob job, Predicate<AgentRecord> accepts) {
        Set<String> taken = new HashSet<>();
        ledger.attemptTasks(job).forEach(t -> taken.add(t.agentId()));
        List<AgentRecord> candidates = new ArrayList<>(agents.onlineAgents().stream().filter(a -> !taken.contains(a.id())).toList());
        candidates.sort(Comparator.comparing(AgentRecord::name).thenComparing(AgentRecord::id));
        Collections.shuffle(candidates, selectionRandom(job.spec.seed(), job.round, job.attempt));
        return candidates.stream().filter(a -> store.openTaskOf(a.id()).isEmpty()).filter(accepts).findFirst();
    }
}
