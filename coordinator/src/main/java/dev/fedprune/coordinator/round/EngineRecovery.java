package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restart recovery: every unfinished job in the store is made active again from its stored spec, its
 * method reloads what closed rounds produced, and an open round is folded again from the contributions
 * the store has as folded. A job that cannot resume fails; the coordinator starts regardless.
 */
final class EngineRecovery {
    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);

    private EngineRecovery() {
    }

    static void recover(JobLedger ledger, RoundScheduler scheduler, ContributionIntake intake) {
        CoordinatorStore store = ledger.store;
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
                        "cannot resume after restart: stored spec refused: " + e.getMessage(), null, ledger.now());
                continue;
            }
            ActiveJob job = new ActiveJob(record.id(), spec, state, record.currentRound(), ledger.now());
            RoundRecord round = state == JobState.CREATED ? null : store.round(job.id, job.round).orElse(null);
            if (round != null) {
                job.attempt = round.attempt();
                if (round.state().equals(RoundScheduler.ROUND_RETRYING)) {
                    // The attempt missed its quorum (perhaps just before the stop): the next one waits for agents.
                    job.attempt++;
                    job.state = state = JobState.WAITING_FOR_AGENTS;
                }
            }
            try {
                if (state != JobState.CREATED) {
                    scheduler.load(job);
                    job.method.restoreClosedRounds(job.round);
                }
                if ((state == JobState.ROUND_OPEN || state == JobState.AGGREGATING) && job.method.multiPhase(job.round)) {
                    ledger.active.put(job.id, job);
                    scheduler.abandonPhasedRound(job, "the coordinator restarted");
                    continue;
                }
                if (state == JobState.ROUND_OPEN || state == JobState.AGGREGATING) {
                    int refolded = intake.refoldCommitted(job);
                    job.state = JobState.ROUND_OPEN;
                    ledger.event(job.id, "resumed after restart: round " + (job.round + 1) + (job.attempt > 1 ? " (attempt " + job.attempt + ")" : "")
                            + " re-folded " + refolded + " stored contributions");
                }
                ledger.active.put(job.id, job);
            } catch (IOException | RuntimeException e) {
                log.error("cannot resume job {}", record.id(), e);
                store.updateJob(record.id(), JobState.FAILED.name(), record.currentRound(), "cannot resume after restart: " + e.getMessage(), null, ledger.now());
            }
        }
    }
}
