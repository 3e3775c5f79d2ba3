package dev.fedprune.agent.train;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.util.Set;

/** An evaluation task of a sparse training job: the global CNN's accuracy on held-out images, and only that, goes back. */
public final class CnnEvaluationHandler implements TaskHandler {

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_EVALUATION);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.TRAINING;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        return CnnTasks.run(task, context, (held, images, out) -> held.withGlobalModel(task, context,
                cnn -> out.setSampleCount(CnnEvaluation.measurePrior(cnn, images.heldOut(), task.getTraining(), out, context))));
    }
}
