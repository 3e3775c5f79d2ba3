package dev.fedprune.agent.train;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The frame every task of a sparse training job runs in: the agent's held CNN and its images, then the
 * task's own work, then the compute time and the bytes of global weights, masks and candidates
 * downloaded (what the dashboard shows as bytes down) as metrics.
 */
final class CnnTasks {
    private static final Logger log = LoggerFactory.getLogger(CnnTasks.class);

    /** The work of one kind of task on the held CNN and the agent's images, filling the contribution. */
    @FunctionalInterface
    interface Work {
        void run(HeldCnn held, LocalImages images, Contribution.Builder out) throws IOException;
    }

    private CnnTasks() {
    }

    static Contribution run(Task task, TaskContext context, Work work) throws IOException {
        log.info("{}: task {} round {}: {}", context.agentName(), task.getTaskId(), task.getRoundIndex() + 1, task.getKind());
        long started = System.nanoTime();
        HeldCnn held = context.held(HeldCnn.class, () -> new HeldCnn(context.device()));
        LocalImages images = held.images(task, context.data());
        Contribution.Builder out = Contribution.newBuilder();
        work.run(held, images, out);
        context.metric("compute_seconds", (System.nanoTime() - started) / 1e9);
        context.metric("model_bytes_down", (double) context.artifactBytesDownloaded());
        return out.build();
    }
}
