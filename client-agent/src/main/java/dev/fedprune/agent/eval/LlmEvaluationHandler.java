package dev.fedprune.agent.eval;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/** An evaluation task of an LLM job: the final global model's quality on local data, and only that, goes back. */
public final class LlmEvaluationHandler implements TaskHandler {

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_EVALUATION);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.PRUNE;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        context.checkMemory();
        long started = System.nanoTime();
        Path modelDir = context.model();
        Map<String, BitMask> masks = PriorModel.masks(task, context);
        long ready = System.nanoTime();
        ModelQuality quality = PriorModel.quality(task, context, modelDir, masks);
        if (quality == null) {
            throw new IllegalArgumentException("task " + task.getTaskId() + ": an evaluation task with no evaluation_samples");
        }
        long computed = System.nanoTime();
        context.metric("model_seconds", (ready - started) / 1e9);
        context.metric("compute_seconds", (computed - ready) / 1e9);
        context.metric("model_bytes_down", (double) context.modelBytesDownloaded());
        return Contribution.newBuilder().setSampleCount(quality.getSamples()).setPriorModelQuality(quality).build();
    }
}
