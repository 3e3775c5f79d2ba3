package dev.fedprune.agent.prune;

import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FedSpaLLM's agent side (algorithms.md 1.14): SparseGPT on the agent's own calibration data, through
 * the layer-streaming {@link SequentialPruner}, and the decoder layers the task names returned as sparse
 * tensors: the weights SparseGPT kept, with the values it reconstructed (a kept weight whose value became
 * 0 is still sent, so the coordinator knows it was kept). Every layer up to the last one named is pruned,
 * so that a named layer is calibrated on the inputs sequential SparseGPT would give it; only the named
 * layers leave the node.
 */
public final class SparseLayersHandler implements TaskHandler {
    private static final Logger log = LoggerFactory.getLogger(SparseLayersHandler.class);

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_SPARSE_LAYERS);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.PRUNE;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        PruneTaskSpec spec = task.getPrune();
        if (spec.getMethod() != PruneMethod.PRUNE_METHOD_SPARSEGPT) {
            throw new IllegalArgumentException("task " + task.getTaskId() + ": a sparse-layers task runs SparseGPT, got " + spec.getMethod());
        }
        TreeSet<Integer> assigned = new TreeSet<>(spec.getLayerIndicesList());
        if (assigned.isEmpty()) {
            throw new IllegalArgumentException("task " + task.getTaskId() + ": names no decoder layer to prune");
        }
        context.checkMemory();
        long started = System.nanoTime();
        Path modelDir = context.model();
        long modelReady = System.nanoTime();
        SparseUpdate.Builder update = SparseUpdate.newBuilder();
        int samples;
        try (LlamaModel model = LlamaModel.open(modelDir)) {
            LlamaConfig c = model.config();
            if (assigned.first() < 0 || assigned.last() >= c.layers()) {
                throw new IllegalArgumentException("task " + task.getTaskId() + ": layers " + assigned + " are outside the model's 0.."
                        + (c.layers() - 1));
            }
            int sequenceLength = spec.getSequenceLength() == 0 ? c.maxPositions() : Math.min(spec.getSequenceLength(), c.maxPositions());
            List<TokenSequence> calibration = TokenDatasets.sample(TokenDatasets.load(context.data().tokensFor(task.getJobId()), c.vocabSize(),
                    sequenceLength, modelDir), spec.getCalibrationSamples(), spec.getSeed());
            samples = calibration.size();
            log.info("{}: task {}: SparseGPT at sparsity {} on {} samples, returning layers {}", context.agentName(), task.getTaskId(),
                    spec.getSparsityRatio(), samples, assigned);
            PruneOptions options = PruneOptions.of(PruneMethod.PRUNE_METHOD_SPARSEGPT, Sparsity.unstructured(spec.getSparsityRatio(), false));
            new SequentialPruner(context.device()).run(model, calibration, options, 0, assigned.last(), Map.of(), new SequentialPruner.LayerSink() {
                @Override
                public void layerDone(SequentialPruner.LayerResult result) {
                    context.stopIfCancelled();
                }

                @Override
                public void tensor(int layer, Projection projection, float[] weights, BitMask mask) {
                    if (assigned.contains(layer)) {
                        update.addTensors(SparseTensorWire.encode(projection.weightName(layer), kept(weights, mask)));
                    }
                }
            }, context.progress());
        }
        long computed = System.nanoTime();
        context.metric("model_seconds", (modelReady - started) / 1e9);
        context.metric("compute_seconds", (computed - modelReady) / 1e9);
        context.metric("model_bytes_down", (double) context.modelBytesDownloaded());
        context.metric("layers_returned", assigned.size());
        return Contribution.newBuilder().setSampleCount(samples).setSparseUpdate(update).build();
    }

    /** The weights the mask keeps (bit clear), zeros included, with their values. */
    static SparseTensor kept(float[] weights, BitMask pruned) {
        int count = (int) (weights.length - pruned.cardinality());
        int[] indices = new int[count];
        float[] values = new float[count];
        for (int i = 0, j = 0; i < weights.length; i++) {
            if (!pruned.get(i)) {
                indices[j] = i;
                values[j++] = weights[i];
            }
        }
        return new SparseTensor(weights.length, indices, values);
    }
}
