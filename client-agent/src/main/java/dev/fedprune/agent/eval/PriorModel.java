package dev.fedprune.agent.eval;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.wire.MaskWire;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The global language model an LLM task starts from: the masks the coordinator has already decided
 * (iterative mode, evaluation), and, when the task asks, its quality on this agent's own data.
 */
public final class PriorModel {
    private static final Logger log = LoggerFactory.getLogger(PriorModel.class);

    private PriorModel() {
    }

    /** The task's prior global masks (1 = pruned), downloaded from the coordinator; empty when it names none. */
    public static Map<String, BitMask> masks(Task task, TaskContext context) throws IOException {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (String artifactId : task.getPrune().getPriorMaskArtifactIdsList()) {
            masks.putAll(MaskWire.decode("mask " + artifactId, MaskSet.parseFrom(context.artifact(artifactId))));
        }
        return masks;
    }

    /** The quality of the model with {@code masks} applied, on local samples, when the task asks for it; null otherwise. */
    public static ModelQuality quality(Task task, TaskContext context, Path modelDir, Map<String, BitMask> masks) throws IOException {
        PruneTaskSpec spec = task.getPrune();
        if (spec.getEvaluationSamples() <= 0) {
            return null;
        }
        long started = System.nanoTime();
        ModelQuality q = context.evaluator().measure(modelDir, context.data().tokensFor(task.getJobId()), masks, spec.getEvaluationSamples(),
                spec.getSequenceLength(), spec.getSeed());
        log.info("{}: task {} round {}: {} {} of the global model so far on {} local samples ({} ms)", context.agentName(), task.getTaskId(),
                task.getRoundIndex() + 1, q.getMetric(), String.format(Locale.ROOT, "%.4f", q.getValue()), q.getSamples(),
                (System.nanoTime() - started) / 1_000_000);
        return q;
    }
}
