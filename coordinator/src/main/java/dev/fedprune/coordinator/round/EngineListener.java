package dev.fedprune.coordinator.round;

/** Receives one line per event an operator cares about (round opened, contribution folded, ...). */
@FunctionalInterface
public interface EngineListener {
    EngineListener NONE = (jobId, message) -> { };

    void onEvent(String jobId, String message);

    /** A contribution was verified and folded; {@code foldNanos} is the time spent decoding and folding it. */
    default void contributionFolded(String jobId, long payloadBytes, long foldNanos) {
    }

    /** A contribution was refused; {@code field} is the part at fault (payload, masks[...], task_id, ...). */
    default void contributionRefused(String jobId, String field) {
    }
}
