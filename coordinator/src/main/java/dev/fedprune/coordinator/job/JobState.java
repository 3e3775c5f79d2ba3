package dev.fedprune.coordinator.job;

/** Where a job is in its life; COMPLETED, FAILED and CANCELLED are final. */
public enum JobState {
    CREATED, WAITING_FOR_AGENTS, ROUND_OPEN, AGGREGATING, COMPLETED, FAILED, CANCELLED;

    public boolean isFinal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }
}
