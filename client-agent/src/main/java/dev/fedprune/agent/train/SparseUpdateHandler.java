package dev.fedprune.agent.train;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.util.Set;

/**
 * A round of federated sparse training (FedTiny, FedMef): measure the global model on held-out images,
 * train it locally with the mask enforced, and send back its active weights.
 */
public final class SparseUpdateHandler implements TaskHandler {

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_SPARSE_UPDATE);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.TRAINING;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        return CnnTasks.run(task, context, (held, images, out) -> held.withGlobalModel(task, context, cnn -> {
            int evaluated = CnnEvaluation.measurePrior(cnn, images.heldOut(), task.getTraining(), out, context);
            LocalTraining.train(task, cnn, images, evaluated, out, context);
        }));
    }
}
