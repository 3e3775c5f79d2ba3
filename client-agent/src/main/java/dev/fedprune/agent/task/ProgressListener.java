package dev.fedprune.agent.task;

/** Receives progress of long local work, e.g. to draw a progress bar or report to the coordinator. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (stage, done, total) -> { };

    void progress(String stage, long done, long total);
}
