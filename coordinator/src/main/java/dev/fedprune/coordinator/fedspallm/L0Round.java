package dev.fedprune.coordinator.fedspallm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.Tensors;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.spallm.ExpandedTensor;
import dev.fedprune.aggregation.spallm.L0NormAccumulator;
import dev.fedprune.aggregation.spallm.LayerPlan;
import dev.fedprune.aggregation.spallm.MaskExpansion;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * One FedSpaLLM pruning round on the coordinator: every agent's pruned layers checked against its share
 * of the plan and folded into one {@link L0NormAccumulator} per tensor (l0-norm mean over the agents that
 * kept each weight), then, at close, {@link MaskExpansion} to the target sparsity and the pruned weights
 * written in the checkpoint's dtypes. Holds 12 bytes per prunable weight while the round is open.
 */
final class L0Round {
    private final LayerAssignment layers;
    private final double sparsityRatio;
    private final double sparsityTolerance;
    private final Map<String, L0NormAccumulator> accumulators = new LinkedHashMap<>();
    /** Agents folded, in fold order, with the layers they returned. */
    private final Map<String, List<Integer>> folded = new LinkedHashMap<>();

    L0Round(LayerAssignment layers, double sparsityRatio, double sparsityTolerance) {
        this.layers = layers;
        this.sparsityRatio = sparsityRatio;
        this.sparsityTolerance = sparsityTolerance;
        for (ModelManifest.TensorEntry t : layers.allTensors()) {
            accumulators.put(t.name(), new L0NormAccumulator(t.name(), t.elementCount()));
        }
    }

    Map<String, List<Integer>> folded() {
        return folded;
    }

    /**
     * Checks that the agent returned exactly the layers the plan gave it, each tensor a valid sparse tensor
     * near the target sparsity, then folds them all; a refused contribution changes nothing.
     */
    void fold(LayerPlan plan, String agentId, Contribution contribution) {
        if (contribution.getPayloadCase() != Contribution.PayloadCase.SPARSE_UPDATE) {
            throw new InvalidContributionException("payload", "a sparse-layers task needs a SparseUpdate payload, got " + contribution.getPayloadCase());
        }
        List<Integer> assigned = plan.layersOf(agentId);
        if (assigned.isEmpty()) {
            throw new InvalidContributionException("agent", "agent " + agentId + " was assigned no layers in this round");
        }
        if (folded.containsKey(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        Map<String, Long> expected = new LinkedHashMap<>();
        for (int layer : assigned) {
            layers.tensorsOf(layer).forEach(t -> expected.put(t.name(), t.elementCount()));
        }
        for (dev.fedprune.proto.v1.SparseTensor t : contribution.getSparseUpdate().getTensorsList()) {
            int layer = PrunableTensors.layerIndex(t.getTensorName()).orElse(-1);
            if (!expected.containsKey(t.getTensorName()) && layer >= 0 && !assigned.contains(layer)) {
                throw new InvalidContributionException("sparse_update.tensors[" + t.getTensorName() + "]",
                        "layer " + layer + " was not assigned to this agent; its layers are " + assigned);
            }
        }
        Map<String, SparseTensor> pruned = SparseTensorWire.decode("sparse_update.tensors", contribution.getSparseUpdate().getTensorsList(), expected);
        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        missing.removeAll(pruned.keySet());
        if (!missing.isEmpty()) {
            throw new InvalidContributionException("sparse_update.tensors", "missing " + missing.size() + " tensor(s) of the assigned layers "
                    + assigned + ", first " + missing.first());
        }
        for (Map.Entry<String, SparseTensor> e : pruned.entrySet()) {
            SparseTensor t = e.getValue();
            String problem = t.problem();
            if (problem != null) {
                throw new InvalidContributionException("sparse_update.tensors[" + e.getKey() + "]", problem);
            }
            double sparsity = t.size() == 0 ? 0 : 1 - (double) t.nonZeroCount() / t.size();
            if (Math.abs(sparsity - sparsityRatio) > sparsityTolerance) {
                throw new InvalidContributionException("sparse_update.tensors[" + e.getKey() + "]", String.format(Locale.ROOT,
                        "keeps %d of %d weights, sparsity %.4f; the job's target is %s within %s", t.nonZeroCount(), t.size(), sparsity,
                        sparsityRatio, sparsityTolerance));
            }
        }
        pruned.forEach((name, t) -> accumulators.get(name).fold(agentId, t));
        folded.put(agentId, List.copyOf(assigned));
    }

    /** What mask expansion did to one tensor, for the round summary and the job report. */
    record TensorOutcome(long prunedCount, long weightCount, long targetPrunedCount, long allPrunedCount, int groupsAboveTarget) {
    }

    /**
     * Aggregates every tensor, expands its mask to the target and writes the pruned weights (original dtypes)
     * to {@code prunedFile}; returns the global prune masks. Refuses, naming them, layers no agent returned.
     */
    Map<String, BitMask> close(ModelManifest manifest, ComparisonGroup group, Path prunedFile, Map<String, TensorOutcome> outcomes)
            throws IOException {
        List<Integer> uncovered = new ArrayList<>();
        for (int layer = 0; layer < layers.layerCount(); layer++) {
            if (accumulators.get(layers.tensorsOf(layer).get(0).name()).agentCount() == 0) {
                uncovered.add(layer);
            }
        }
        if (!uncovered.isEmpty()) {
            throw new IllegalStateException("no agent returned decoder layer(s) " + uncovered + " (the agents folded returned " + folded + ")");
        }
        Map<String, ModelManifest.TensorEntry> byName = manifest.tensorsByName();
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        layers.allTensors().forEach(t -> entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape())));
        Map<String, BitMask> masks = new LinkedHashMap<>();
        try (SafetensorsWriter out = SafetensorsWriter.create(prunedFile, entries, Map.of())) {
            for (Map.Entry<String, L0NormAccumulator> e : accumulators.entrySet()) {
                long[] shape = byName.get(e.getKey()).shape();
                ExpandedTensor x = MaskExpansion.expand(e.getValue().result(), (int) shape[0], (int) shape[1], group, sparsityRatio);
                out.write(e.getKey(), ByteBuffer.wrap(Tensors.fromFloats(x.weights(), byName.get(e.getKey()).dtype())));
                masks.put(e.getKey(), x.pruneMask());
                outcomes.put(e.getKey(), new TensorOutcome(x.prunedCount(), x.weights().length, x.targetPrunedCount(), x.allPrunedCount(),
                        x.groupsAboveTarget()));
            }
        }
        return masks;
    }
}
