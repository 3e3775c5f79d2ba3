package dev.fedprune.agent.task;

import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.util.Set;

/**
 * Computes this agent's contribution to one kind of task: the one agent-side class a federated method
 * adds. The agent loop pulls a task, picks the handler registered for its kind and spec, and sends what
 * the handler returns (signed upload, then the metrics the handler recorded in its context), so a
 * handler never touches the loop, the upload or the failure reports.
 *
 * <p>Handlers are found with {@link java.util.ServiceLoader}: a public class with a public no-argument
 * constructor, named in {@code META-INF/services/dev.fedprune.agent.task.TaskHandler}. A handler keeps
 * no state of its own; what must outlive one task (a model kept in memory between rounds) it keeps with
 * {@link TaskContext#held}.
 */
public interface TaskHandler {

    /** The task kinds this handler computes. */
    Set<TaskKind> kinds();

    /**
     * The spec its tasks carry: one kind may come with different specs (an evaluation of a language
     * model carries a prune spec, an evaluation of a CNN a training spec), each with its own handler.
     */
    Task.SpecCase spec();

    /**
     * Computes the contribution on this agent's data. The task id is filled in by the sender; metrics
     * go to {@link TaskContext#metric}. Failures are thrown: the loop reports them to the coordinator
     * ({@link TaskTooLargeException} and {@link LocalData.MissingLocalDataException} as not retryable
     * here, I/O failures as retryable), and {@link TaskCancelledException} ends the task silently.
     */
    Contribution handle(Task task, TaskContext context) throws IOException;
}
