package dev.fedprune.agent.train;

import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.cnn.NsConvCnn;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.TaskCancelledException;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.fedmef.MarkedWeights;
import dev.fedprune.aggregation.sparsetrain.fedmef.RexLearningRate;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TopKRequest;
import dev.fedprune.proto.v1.TrainingRoundMode;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import dev.fedprune.wire.SparseTensorWire;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Local training of a sparse training round (algorithms.md section 3): {@code local_steps} (or epochs of)
 * SGD steps on the agent's own images with the mask enforced, FedMef's budget-aware extrusion and scaled
 * activation pruning when the task asks for them, and the contribution of active weights only.
 */
final class LocalTraining {
    private LocalTraining() {
    }

    /**
     * Trains the installed global model on the agent's training images and sets the sparse update (and the
     * sample count) of the contribution. Asks the context before every step whether the task was called off.
     * Returns the batch order, positioned after the last training batch, for work that follows on the next batch.
     *
     * @param evaluated how many held-out images the prior accuracy was measured on (adjustment rounds measure again)
     */
    static BatchOrder train(Task task, MaskedCnn cnn, LocalImages images, int evaluated, Contribution.Builder out, TaskContext context) {
        TrainingTaskSpec spec = task.getTraining();
        out.setSampleCount(images.train().size());
        long trainStarted = System.nanoTime();
        BatchOrder order = new BatchOrder(images.train(), spec.getBatchSize(),
                new SplittableRandom(spec.getSeed() * 1_000_003L + spec.getTrainingRound() * 7919L + context.agentName().hashCode()));
        int steps = localSteps(spec, images.train().size());
        cnn.setOptimizer(spec.getMomentum(), spec.getWeightDecay());
        RexLearningRate rex = startExtrusion(cnn, spec, steps, context);
        NsConvCnn sap = activationPruning(cnn, spec);
        double lossSum = 0;
        long activationPeak = 0;
        long activationDense = 0;
        for (int s = 0; s < steps; s++) {
            if (context.cancelled()) {
                if (rex != null) {
                    cnn.setExtrusion(Map.of(), 0f); // the next task starts without this one's marks
                }
                throw new TaskCancelledException(task.getTaskId());
            }
            LabeledImages.Batch b = order.next();
            float rate = rex == null ? (float) spec.getLearningRate() : (float) rex.stepRate(s, spec.getLearningRate(), cnn.markedNorm());
            lossSum += cnn.trainStep(b.pixels(), b.labels(), rate);
            if (sap != null) {
                activationPeak = Math.max(activationPeak, sap.lastStepMemory().peakBytes());
                activationDense = Math.max(activationDense, sap.lastStepMemory().denseCacheBytes());
            }
        }
        if (rex != null) {
            context.metric("bae_marked_norm_end", cnn.markedNorm());
            cnn.setExtrusion(Map.of(), 0f);
        }
        if (sap != null) {
            // Measured from the buffers the layer-wise trainer held (ActivationMemory).
            context.metric("activation_peak_bytes", (double) activationPeak);
            context.metric("activation_dense_bytes", (double) activationDense);
            context.metric("activation_bytes_measured", 1.0);
        } else {
            // Whole-graph autograd keeps its cache inside the engine: computed from the layer shapes.
            cnn.wholeGraphCacheBytes(spec.getBatchSize()).ifPresent(bytes -> {
                context.metric("activation_peak_bytes", (double) bytes);
                context.metric("activation_dense_bytes", (double) bytes);
                context.metric("activation_bytes_measured", 0.0);
            });
        }
        context.metric("local_steps", (double) steps);
        context.metric("train_loss", lossSum / steps);
        context.metric("train_images_per_second", steps * (double) order.batchSize() / ((System.nanoTime() - trainStarted) / 1e9));
        if (spec.getMode() == TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT) {
            pruneAccuracy(cnn, spec, images.heldOut(), evaluated, context); // after the throughput: two evaluations, not training
        }
        SparseUpdate.Builder update = SparseUpdate.newBuilder();
        for (LayerShape l : cnn.sparseLayers()) {
            update.addTensors(SparseTensorWire.encode(l.name(), SparseTensor.ofDense(cnn.weights(l.name()))));
        }
        cnn.denseState().forEach((name, values) -> update.addTensors(SparseTensorWire.encode(name, full(values))));
        out.setSparseUpdate(update);
        return order;
    }

    /**
     * Steps of local training in this task: {@code local_epochs} passes of {@code ⌊n / batch⌋} full batches
     * (at least one) over the agent's {@code n} training images when the job counts epochs, else {@code local_steps}.
     */
    static int localSteps(TrainingTaskSpec spec, int trainImages) {
        if (spec.getLocalEpochs() < 0 || spec.getLocalSteps() < 0) {
            throw new IllegalArgumentException("local_epochs " + spec.getLocalEpochs() + " / local_steps " + spec.getLocalSteps() + ": expected >= 0");
        }
        if (spec.getLocalEpochs() == 0) {
            if (spec.getLocalSteps() == 0) {
                throw new IllegalArgumentException("local_steps and local_epochs are both 0: a training task needs one of them");
            }
            return spec.getLocalSteps();
        }
        long perEpoch = Math.max(1, trainImages / Math.max(1, Math.min(spec.getBatchSize(), trainImages)));
        long steps = spec.getLocalEpochs() * perEpoch;
        if (steps > 100_000_000) {
            throw new IllegalArgumentException("local_epochs " + spec.getLocalEpochs() + " over " + trainImages + " images is " + steps + " steps");
        }
        return (int) steps;
    }

    /**
     * FedMef budget-aware extrusion in an adjustment round (algorithms.md 4.4 step 3, the paper's column):
     * in every layer to be adjusted, the k lowest-magnitude active weights of the received model are the
     * ones the coordinator will prune; they are penalised with {@code λ·‖Θ_low‖₂²} and the learning rate
     * follows {@code max(η, β_b)} with the REX profile over this round's local steps (the budget
     * {@code B_bud}; local training here is counted in steps, not epochs). Returns null when the task asks
     * for no extrusion. The marked weights' norm before and after training goes into the metrics.
     */
    private static RexLearningRate startExtrusion(MaskedCnn cnn, TrainingTaskSpec spec, int steps, TaskContext context) {
        if (spec.getMode() != TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT || spec.getExtrusionLambda() <= 0) {
            return null;
        }
        Map<String, int[]> marked = new LinkedHashMap<>();
        long count = 0;
        for (TopKRequest r : spec.getTopKList()) {
            int[] indices = MarkedWeights.mark(cnn.weights(r.getTensorName()), cnn.keepMask(r.getTensorName()), r.getK()).indices();
            marked.put(r.getTensorName(), indices);
            count += indices.length;
        }
        cnn.setExtrusion(marked, (float) spec.getExtrusionLambda());
        context.metric("bae_marked_weights", (double) count);
        context.metric("bae_marked_norm_start", cnn.markedNorm());
        return new RexLearningRate(steps, spec.getLearningRate());
    }

    /**
     * Sets the SAP ratio the task asks for on a model that supports it; returns that model, or null when
     * this model trains by whole-graph autograd (then the task must not ask for SAP).
     */
    private static NsConvCnn activationPruning(MaskedCnn cnn, TrainingTaskSpec spec) {
        if (cnn instanceof NsConvCnn ns) {
            try {
                ns.setActivationPruning(spec.getSapGamma());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("sap_gamma: " + e.getMessage(), e);
            }
            return ns;
        }
        if (spec.getSapGamma() != 0) {
            throw new IllegalArgumentException("sap_gamma: " + spec.getSapGamma() + " asks for scaled activation pruning, which only "
                    + "CNN_ARCHITECTURE_NSCONV_VGG implements; this task's model is " + spec.getModel().getArchitecture());
        }
        return null;
    }

    /**
     * How much the adjustment about to happen costs this agent's model (algorithms.md 4.4 step 5): its
     * held-out accuracy after local training, then with the {@code k_ℓ} lowest-magnitude active weights
     * of every layer in {@code top_k} pruned, i.e. taken out of the keep-mask as the server takes them
     * (chosen here on the local model; for NSConv this also changes the channel statistics, not only
     * the weight), after which mask and weights are put back exactly. With budget-aware extrusion the two
     * accuracies should be close.
     */
    private static void pruneAccuracy(MaskedCnn cnn, TrainingTaskSpec spec, LabeledImages heldOut, int count, TaskContext context) {
        if (count == 0 || spec.getTopKCount() == 0) {
            return;
        }
        context.metric("prune_accuracy_before", CnnEvaluation.evaluate(cnn, heldOut, count, spec.getBatchSize())[1]);
        Map<String, float[]> savedWeights = new LinkedHashMap<>();
        Map<String, BitMask> savedMasks = new LinkedHashMap<>();
        for (TopKRequest r : spec.getTopKList()) {
            String layer = r.getTensorName();
            float[] w = cnn.weights(layer);
            BitMask keep = cnn.keepMask(layer);
            savedWeights.put(layer, w);
            savedMasks.put(layer, keep);
            BitMask pruned = keep.copy();
            for (int i : MarkedWeights.mark(w, keep, r.getK()).indices()) {
                pruned.set(i, false);
            }
            cnn.setKeepMask(layer, pruned);
        }
        context.metric("prune_accuracy_after", CnnEvaluation.evaluate(cnn, heldOut, count, spec.getBatchSize())[1]);
        savedMasks.forEach(cnn::setKeepMask);
        savedWeights.forEach(cnn::setWeights);
    }

    private static SparseTensor full(float[] values) {
        int[] indices = new int[values.length];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = i;
        }
        return new SparseTensor(values.length, indices, values);
    }
}
