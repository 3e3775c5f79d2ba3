package dev.fedprune.agent.train;

import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TopKGradients;
import dev.fedprune.proto.v1.TopKRequest;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An adjustment round of FedTiny and FedMef (algorithms.md 3.4): the round's local training and sparse
 * update, then the top-K gradients at inactive weights of the adjusted layers, from the first batch after
 * local training, so that the coordinator can grow the weights with the largest aggregated gradients.
 */
public final class TopKGradientsHandler implements TaskHandler {

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_TOP_K_GRADIENTS);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.TRAINING;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        return CnnTasks.run(task, context, (held, images, out) -> held.withGlobalModel(task, context, cnn -> {
            int evaluated = CnnEvaluation.measurePrior(cnn, images.heldOut(), task.getTraining(), out, context);
            BatchOrder order = LocalTraining.train(task, cnn, images, evaluated, out, context);
            Map<String, Integer> topK = new LinkedHashMap<>();
            for (TopKRequest r : task.getTraining().getTopKList()) {
                topK.put(r.getTensorName(), r.getK());
            }
            LabeledImages.Batch b = order.next(); // the first batch after local training [C]
            Map<String, SparseTensor> gradients = cnn.topKInactiveGradients(b.pixels(), b.labels(), topK);
            TopKGradients.Builder g = TopKGradients.newBuilder();
            gradients.forEach((name, t) -> g.addTensors(SparseTensorWire.encode(name, t)));
            out.setTopKGradients(g);
            context.metric("top_k_buffer_bytes", (double) topK.values().stream().mapToLong(k -> 8L * k).sum());
        }));
    }
}
