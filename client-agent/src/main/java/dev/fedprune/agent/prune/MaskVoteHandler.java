package dev.fedprune.agent.prune;

import dev.fedprune.agent.eval.PriorModel;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.ComparisonGroup;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.wire.MaskWire;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FedPrLLM's agent side: this agent's prune masks for the task's tensors, computed by the local pruner
 * the task names on the agent's own calibration data; all layers at once (one-shot) or one decoder layer
 * after the global masks of the earlier ones (iterative). Only the bit-packed masks leave the node.
 */
public final class MaskVoteHandler implements TaskHandler {
    private static final Logger log = LoggerFactory.getLogger(MaskVoteHandler.class);

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_MASK_VOTE, TaskKind.TASK_KIND_LAYER_MASK_VOTE);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.PRUNE;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        Vote vote = vote(task, context, task.getKind() == TaskKind.TASK_KIND_LAYER_MASK_VOTE);
        Contribution.Builder contribution = Contribution.newBuilder().setSampleCount(vote.sampleCount()).setMasks(MaskWire.encode(vote.masks()));
        if (vote.quality() != null) {
            contribution.setPriorModelQuality(vote.quality());
        }
        return contribution.build();
    }

    /**
     * This agent's vote on a task's tensors: its masks, the samples behind them, and the measured quality of
     * the model the task starts from (null when not asked).
     */
    public record Vote(Map<String, BitMask> masks, long sampleCount, ModelQuality quality) {
    }

    /**
     * Computes this agent's masks for a prune task (in the clear, or before secure aggregation masks them) and
     * records the task's timing metrics.
     *
     * @param iterative one decoder layer after the global masks of the earlier ones
     */
    public static Vote vote(Task task, TaskContext context, boolean iterative) throws IOException {
        context.checkMemory();
        long started = System.nanoTime();
        Path modelDir = context.model();
        long modelReady = System.nanoTime();
        PruneTaskSpec spec = task.getPrune();
        PruneMethod method = spec.getMethod();
        if (!PruneMethods.isLocalPruner(method)) {
            throw new IllegalArgumentException("task " + task.getTaskId() + ": unknown prune method " + method);
        }
        MaskEngine engine = context.pruner(method).orElseThrow(() -> new IllegalArgumentException(
                "task " + task.getTaskId() + ": this agent has no " + PruneMethods.word(method) + " pruner"));
        Map<String, BitMask> prior = PriorModel.masks(task, context);
        ModelQuality quality = PriorModel.quality(task, context, modelDir, prior);
        Path tokens = context.data().tokensFor(task.getJobId());
        MaskRequest request = new MaskRequest(modelDir, tokens, method, spec.getSparsityRatio(),
                spec.getLocalComparisonGroup() != ComparisonGroup.COMPARISON_GROUP_LAYER,
                spec.getPattern().getN(), spec.getPattern().getM(), spec.getCalibrationSamples(), spec.getSequenceLength(),
                spec.getSeed(), spec.getTensorNamesList(), iterative ? spec.getLayerIndex() : -1, prior,
                iterative ? context.jobStates() : null);
        log.info("{}: task {} round {}: {} masks for {} tensors", context.agentName(), task.getTaskId(), task.getRoundIndex() + 1,
                PruneMethods.word(method), spec.getTensorNamesCount());
        Map<String, BitMask> masks = engine.computeMasks(request, context.progress());
        long computed = System.nanoTime();
        context.metric("model_seconds", (modelReady - started) / 1e9);
        context.metric("compute_seconds", (computed - modelReady) / 1e9);
        context.metric("model_bytes_down", (double) context.modelBytesDownloaded());
        return new Vote(masks, sampleCount(tokens), quality);
    }

    /** How many samples this agent holds: one per non-blank line of its token data. */
    private static long sampleCount(Path tokens) {
        try (var lines = Files.lines(tokens)) {
            return lines.filter(l -> !l.isBlank()).count();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + tokens, e);
        }
    }
}
