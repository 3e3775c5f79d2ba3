package dev.fedprune.agent.task;

/** A task that needs more memory than the agent's {@code limits.memory}: refused before anything is downloaded, and reported as not retryable. */
public final class TaskTooLargeException extends RuntimeException {
    public TaskTooLargeException(String message) {
        super(message);
    }
}
