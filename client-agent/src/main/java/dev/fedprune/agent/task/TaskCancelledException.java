package dev.fedprune.agent.task;

/** The coordinator called a task off (its round closed, its job failed or was cancelled): its work stops, nothing is uploaded. */
public final class TaskCancelledException extends RuntimeException {
    public TaskCancelledException(String taskId) {
        super("task " + taskId + " was called off by the coordinator; nothing uploaded");
    }
}
