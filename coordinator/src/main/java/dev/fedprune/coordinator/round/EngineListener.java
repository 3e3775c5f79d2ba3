package dev.fedprune.coordinator.round;

/** Receives one line per event an operator cares about (round opened, contribution folded, ...). */
@FunctionalInterface
public interface EngineListener {
    EngineListener NONE = (jobId, message) -> { };

    void onEvent(String jobId, String message);
}
