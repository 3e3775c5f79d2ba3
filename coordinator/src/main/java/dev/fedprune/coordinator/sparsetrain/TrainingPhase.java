package dev.fedprune.coordinator.sparsetrain;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.ActiveWeightsCheck;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.BlockOrder;
import dev.fedprune.aggregation.sparsetrain.BlockPartition;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.PruneAndGrow;
import dev.fedprune.aggregation.sparsetrain.RoundMode;
import dev.fedprune.aggregation.sparsetrain.TopKGradientAggregator;
import dev.fedprune.coordinator.job.SparseTrainingSpec;
import dev.fedprune.coordinator.round.DefenceSummary;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.TopKRequest;
import dev.fedprune.proto.v1.TrainingRoundMode;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The training rounds {@code t = 0 … R−1}: sparse FedAvg of the agents' active weights, weighted by
 * sample count (or robust FedAvg when the job asks: {@link RoundAverage}), and in adjustment rounds (FedTiny: one block at a time; FedMef: every layer) prune-and-grow
 * of the mask from the agents' aggregated top-K gradients of inactive weights (O-11, O-12, O-13).
 */
final class TrainingPhase {
    private final SparseTrainingSpec spec;
    private final List<LayerShape> layers;
    private final Map<String, Long> sparseSizes;
    private final Map<String, Long> denseSizes;
    private final Map<String, Long> allSizes;
    private final GlobalModel model;
    private final AdjustmentSchedule schedule;
    private final List<List<Integer>> blocks;

    // The open round.
    private RoundAverage weightSums;
    private TopKGradientAggregator gradientSums;
    /** With a sample cap, the round's top-K gradients wait for the capped weights, known only when it closes. */
    private final List<Gradients> deferredGradients = new ArrayList<>();
    private Map<String, Integer> roundTopK = Map.of();
    private double qualitySum;
    private long qualitySamples;

    TrainingPhase(SparseTrainingSpec spec, List<LayerShape> layers, Map<String, Long> sparseSizes, Map<String, Long> denseSizes,
                  Map<String, Long> allSizes, GlobalModel model) {
        this.spec = spec;
        this.layers = layers;
        this.sparseSizes = sparseSizes;
        this.denseSizes = denseSizes;
        this.allSizes = allSizes;
        this.model = model;
        this.blocks = BlockPartition.balanced(layers, spec.effectiveBlocks());
        this.schedule = spec.variant().adjustsMask()
                ? new AdjustmentSchedule(spec.adjustAlpha(), spec.adjustInterval(), spec.adjustStopRound(), blocks.size(), BlockOrder.OUTPUT_TO_INPUT)
                : null;
    }

    RoundMode mode(int t) {
        return schedule == null ? RoundMode.NORMAL : schedule.mode(t);
    }

    /** {@code k_ℓ} of every layer of the block adjusted in training round {@code t}; empty outside adjustment rounds. */
    Map<String, Integer> topK(int t) {
        Map<String, BitMask> keep = model.keep();
        if (schedule == null || !schedule.isAdjustment(t) || keep == null) {
            return Map.of();
        }
        Map<String, Integer> out = new LinkedHashMap<>();
        for (int i : blocks.get(schedule.block(t))) {
            LayerShape l = layers.get(i);
            int active = (int) keep.get(l.name()).cardinality();
            out.put(l.name(), schedule.adjustCount(t, active, l.weightCount() - active));
        }
        return out;
    }

    /** Whether training round {@code t}'s task is a top-K gradient task (an adjustment round). */
    boolean adjusts(int t) {
        return mode(t) == RoundMode.ADJUSTMENT;
    }

    void taskTemplate(int t, TrainingTaskSpec.Builder training) {
        RoundMode mode = mode(t);
        training.setTrainingRound(t).setMode(switch (mode) {
            case NORMAL -> TrainingRoundMode.TRAINING_ROUND_MODE_NORMAL;
            case ADJUSTMENT -> TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT;
            case MASK_SYNC -> TrainingRoundMode.TRAINING_ROUND_MODE_MASK_SYNC;
        });
        topK(t).forEach((layer, k) -> training.addTopK(TopKRequest.newBuilder().setTensorName(layer).setK(k)));
        if (mode == RoundMode.ADJUSTMENT && spec.variant().extrudes()) {
            training.setExtrusionLambda(spec.extrusionLambda());
        }
        training.setSapGamma(spec.sapGamma()); // every training step of the job, 0 unless FedMef with SAP
        training.setWeightsArtifactId(model.weightsArtifact()).setMaskArtifactId(model.maskArtifact());
    }

    void open(int t) {
        qualitySum = 0;
        qualitySamples = 0;
        gradientSums = null;
        deferredGradients.clear();
        weightSums = new RoundAverage(allSizes, this::startingModel, spec.robustAggregation());
        roundTopK = topK(t);
        if (!roundTopK.isEmpty()) {
            gradientSums = newGradientSums();
        }
    }

    private TopKGradientAggregator newGradientSums() {
        Map<String, BitMask> blockMasks = new LinkedHashMap<>();
        roundTopK.keySet().forEach(layer -> blockMasks.put(layer, model.keep().get(layer)));
        return new TopKGradientAggregator(blockMasks, roundTopK);
    }

    private boolean capsSamples() {
        return spec.robustAggregation() != null && spec.robustAggregation().sampleCap() > 0;
    }

    /** The global model this round started from, every tensor: the reference of robust aggregation's updates. */
    private Map<String, float[]> startingModel() {
        Map<String, float[]> start = new LinkedHashMap<>();
        for (String name : allSizes.keySet()) {
            start.put(name, sparseSizes.containsKey(name) ? model.weights(name) : model.dense(name));
        }
        return start;
    }

    private record Gradients(String agentId, Map<String, SparseTensor> tensors) {
    }

    void fold(String agentId, Contribution contribution) {
        if (!contribution.hasSparseUpdate()) {
            throw new InvalidContributionException("sparse_update", "a training task needs the trained weights as a sparse_update, got " + contribution.getPayloadCase());
        }
        if (contribution.getSampleCount() < 1) {
            throw new InvalidContributionException("sample_count", "must be at least 1, got " + contribution.getSampleCount());
        }
        ModelQuality quality = SparseTrainingMethod.checkAccuracy(contribution);
        Map<String, SparseTensor> update = SparseTensorWire.decode("sparse_update.tensors", contribution.getSparseUpdate().getTensorsList(), allSizes);
        for (String name : allSizes.keySet()) {
            if (!update.containsKey(name)) {
                throw new InvalidContributionException("sparse_update.tensors", "tensor '" + name + "' is missing");
            }
        }
        Map<String, SparseTensor> sparse = new LinkedHashMap<>();
        sparseSizes.keySet().forEach(name -> sparse.put(name, update.get(name)));
        try {
            ActiveWeightsCheck.check(sparse, model.keep());
        } catch (InvalidContributionException e) {
            throw new InvalidContributionException("sparse_update.tensors" + e.field().substring("weights".length()),
                    e.getMessage().substring(e.field().length() + 2));
        }
        for (String name : denseSizes.keySet()) {
            SparseTensor t = update.get(name);
            if (t.nonZeroCount() != t.size()) {
                throw new InvalidContributionException("sparse_update.tensors[" + name + "]",
                        "a dense tensor must be sent in full: " + t.nonZeroCount() + " of " + t.size() + " values");
            }
        }
        if (weightSums.contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        if (gradientSums != null) {
            if (!contribution.hasTopKGradients()) {
                throw new InvalidContributionException("top_k_gradients", "an adjustment round needs the top-K inactive gradients of " + roundTopK.keySet());
            }
            Map<String, Long> blockSizes = new LinkedHashMap<>();
            roundTopK.keySet().forEach(layer -> blockSizes.put(layer, sparseSizes.get(layer)));
            Map<String, SparseTensor> gradients = SparseTensorWire.decode("top_k_gradients.tensors", contribution.getTopKGradients().getTensorsList(), blockSizes);
            try {
                if (capsSamples()) {
                    newGradientSums().fold(agentId, 1, gradients); // checked now, folded with the capped weight at close
                    deferredGradients.add(new Gradients(agentId, gradients));
                } else {
                    gradientSums.fold(agentId, contribution.getSampleCount(), gradients);
                }
            } catch (InvalidContributionException e) {
                throw new InvalidContributionException("top_k_gradients." + e.field().replace("gradients", "tensors"),
                        e.getMessage().substring(e.field().length() + 2));
            }
        } else if (contribution.hasTopKGradients()) {
            throw new InvalidContributionException("top_k_gradients", "this is not an adjustment round; no gradients are folded");
        }
        // Checked above: sizes, indices, finite values, a new agent, at least one sample.
        weightSums.fold(agentId, contribution.getSampleCount(), update);
        qualitySum += quality.getValue() * quality.getSamples();
        qualitySamples += quality.getSamples();
    }

    /** Averages the round, adjusts the mask in an adjustment round, and publishes the new global model. */
    RoundSummary close(int roundIndex, int t) throws IOException {
        if (weightSums.agentCount() == 0) {
            throw new IllegalStateException("round " + roundIndex + " has no folded contributions");
        }
        Map<String, Long> weights = weightSums.weights();
        for (Gradients g : deferredGradients) {
            gradientSums.fold(g.agentId(), weights.get(g.agentId()), g.tensors());
        }
        RoundAverage.Closed averaged = weightSums.close(allSizes.keySet());
        Map<String, BitMask> keep = model.keep();
        Map<String, BitMask> newKeep = new LinkedHashMap<>();
        Map<String, float[]> newWeights = new LinkedHashMap<>();
        Map<String, Integer> adjusted = new LinkedHashMap<>();
        for (LayerShape l : layers) {
            float[] avg = averaged.model().get(l.name());
            Integer k = roundTopK.get(l.name());
            if (k != null) {
                PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(avg, keep.get(l.name()), gradientSums.aggregated(l.name()), k,
                        PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED);
                newKeep.put(l.name(), r.keep());
                newWeights.put(l.name(), r.weights());
                adjusted.put(l.name(), k);
            } else {
                newKeep.put(l.name(), keep.get(l.name()));
                newWeights.put(l.name(), avg);
            }
        }
        Map<String, float[]> newDense = new LinkedHashMap<>();
        denseSizes.keySet().forEach(name -> newDense.put(name, averaged.model().get(name)));
        boolean maskChanged = !newKeep.equals(keep);
        if (maskChanged) {
            model.install(newKeep, newWeights, newDense);
        } else {
            model.update(newWeights, newDense);
        }
        Map<String, Double> sparsity = new LinkedHashMap<>();
        model.keep().forEach((name, m) -> sparsity.put(name, 1 - (double) m.cardinality() / m.length()));
        boolean adjustedAny = !adjusted.isEmpty();
        RoundSummary summary = RoundSummary.of(weightSums.agentCount(), new Summary("training", t, mode(t).name().toLowerCase(Locale.ROOT),
                adjustedAny ? schedule.block(t) : null, adjustedAny ? adjusted : null, adjustedAny ? maskChanged : null,
                averaged.reportedSamples(), qualitySamples == 0 ? null : qualitySum / qualitySamples, model.density(), sparsity,
                averaged.defence()));
        weightSums = null;
        gradientSums = null;
        deferredGradients.clear();
        return summary;
    }

    /**
     * A training round: its mode, in an adjustment round the block and the {@code k} of each adjusted layer and
     * whether the mask changed, the samples trained on, the accuracy agents measured of the model the round
     * started from, the global mask's density overall and sparsity per layer (as FedPrLLM rounds report it), and
     * with robust aggregation what its defences did.
     */
    record Summary(String phase, int trainingRound, String mode, @JsonInclude(JsonInclude.Include.NON_NULL) Integer block,
                   @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Integer> adjusted,
                   @JsonInclude(JsonInclude.Include.NON_NULL) Boolean maskChanged, long samples, Double priorAccuracy, double density,
                   Map<String, Double> sparsity, @JsonInclude(JsonInclude.Include.NON_NULL) DefenceSummary defence)
            implements RoundSummary.Detail {
        @Override
        public Summary withAgentNames(UnaryOperator<String> nameOf) {
            return defence == null ? this : new Summary(phase, trainingRound, mode, block, adjusted, maskChanged, samples, priorAccuracy,
                    density, sparsity, defence.withAgentNames(nameOf));
        }
    }
}
