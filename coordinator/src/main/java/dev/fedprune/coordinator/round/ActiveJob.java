package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobState;

/** In-memory side of a job that is not finished; guarded by its own monitor. */
final class ActiveJob {
    final String id;
    final JobSpec spec;
    JobState state;
    int round;
    /** The attempt of the current round, from 1; a missed quorum with attempts left opens the round again. */
    int attempt = 1;
    long waitingSince;
    /** The job's method, created when the job starts (null while CREATED). */
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
