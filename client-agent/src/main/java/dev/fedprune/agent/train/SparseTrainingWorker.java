package dev.fedprune.agent.train;

import dev.fedprune.wire.SparseTensorWire;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.BnStatisticsWire;
import ai.djl.Device;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.cnn.NsConvCnn;
import dev.fedprune.agent.cnn.ResNet18;
import dev.fedprune.agent.cnn.SmallVggCnn;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.LocalData;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.fedmef.MarkedWeights;
import dev.fedprune.aggregation.sparsetrain.fedmef.RexLearningRate;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.proto.v1.AbnsStep;
import dev.fedprune.proto.v1.CandidateBnStatistics;
import dev.fedprune.proto.v1.CandidateLosses;
import dev.fedprune.proto.v1.CandidateModel;
import dev.fedprune.proto.v1.CnnModelSpec;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorEntry;
import dev.fedprune.proto.v1.TopKGradients;
import dev.fedprune.proto.v1.TopKRequest;
import dev.fedprune.proto.v1.TrainingRoundMode;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The agent-side half of federated sparse training (algorithms.md section 3): builds the job's masked
 * CNN, installs the global weights (and the mask when it changed), measures the accuracy of that global
 * model on the held-out images, trains {@code local_steps} SGD steps on the agent's own images with the
 * mask enforced, and returns a contribution of active weights only; in adjustment rounds also the
 * top-K inactive gradients of the adjusted block from one further batch, and for FedTiny's adaptive BN
 * selection the recalibrated BatchNorm statistics or the loss of every candidate.
 *
 * <p>The model and the last mask stay in memory between rounds of the same job. DJL's gradient
 * collection is global to the JVM, so every worker of the JVM trains under one lock.
 */
public final class SparseTrainingWorker implements AutoCloseable {
    /** Serialises model computation across the agents of one JVM (simulations, tests). */
    private static final Object DJL_LOCK = new Object();

    /** A contribution and the metrics to report with it. */
    public record Result(Contribution contribution, Map<String, Double> metrics) {
    }

    private final CoordinatorClient client;
    private final String agentName;
    private final LocalData localData;
    private final Path workDir;
    private LocalImages data;
    private String dataKey;
    private MaskedCnn model;
    private String modelKey;
    private final Device device;
    private String heldMaskArtifact;
    private Map<String, BitMask> keep = Map.of();
    private long bytesDown;

    /**
     * @param data    the agent's data; training tasks use its images (see {@link LocalImages})
     * @param workDir where downloaded artifacts are written while they are read
     */
    public SparseTrainingWorker(CoordinatorClient client, String agentName, LocalData data, Path workDir) {
        this(client, agentName, data, workDir, Device.cpu());
    }

    /** @param device where the CNN is built and trained: the CPU, or a CUDA device when the engine has one */
    public SparseTrainingWorker(CoordinatorClient client, String agentName, LocalData data, Path workDir, Device device) {
        this.client = client;
        this.agentName = agentName;
        this.localData = data;
        this.workDir = workDir;
        this.device = device;
    }

    /** Runs a task whose spec is a {@link TrainingTaskSpec}. */
    public Result run(Task task) throws IOException {
        return run(task, () -> false);
    }

    /**
     * Runs a task whose spec is a {@link TrainingTaskSpec}, asking {@code cancelled} before every local
     * step: once it answers true the task stops with a {@link dev.fedprune.agent.task.TaskCancelledException}.
     */
    public Result run(Task task, java.util.function.BooleanSupplier cancelled) throws IOException {
        TrainingTaskSpec spec = task.getTraining();
        long downBefore = bytesDown;
        long started = System.nanoTime();
        LocalImages images = data(task.getJobId(), spec.getModel());
        Map<String, Double> metrics = new LinkedHashMap<>();
        Contribution.Builder out = Contribution.newBuilder().setTaskId(task.getTaskId());
        if (task.getKind() == TaskKind.TASK_KIND_BN_CANDIDATE_SCORES) {
            List<byte[][]> candidates = new ArrayList<>();
            for (CandidateModel c : spec.getCandidatesList()) {
                candidates.add(new byte[][] {download(c.getWeightsArtifactId()), download(c.getMaskArtifactId())});
            }
            CandidateBnStatistics aggregated = spec.getAbnsStep() == AbnsStep.ABNS_STEP_CANDIDATE_LOSSES
                    ? CandidateBnStatistics.parseFrom(download(spec.getCandidateStatisticsArtifactId())) : null;
            synchronized (DJL_LOCK) {
                MaskedCnn cnn = model(task);
                if (spec.getAbnsStep() == AbnsStep.ABNS_STEP_BN_STATISTICS) {
                    CandidateBnStatistics.Builder all = CandidateBnStatistics.newBuilder();
                    for (byte[][] c : candidates) {
                        install(cnn, c[0], c[1]);
                        cnn.recalibrateBatchNorm(batches(images.train(), spec.getBatchSize()));
                        all.addCandidates(BnStatisticsWire.encode(cnn.batchNormStatistics()));
                    }
                    out.setCandidateBnStatistics(all).setSampleCount(images.train().size());
                } else if (spec.getAbnsStep() == AbnsStep.ABNS_STEP_CANDIDATE_LOSSES) {
                    if (aggregated.getCandidatesCount() != candidates.size()) {
                        throw new IllegalArgumentException("candidate_statistics_artifact_id: " + aggregated.getCandidatesCount()
                                + " candidates' statistics for " + candidates.size() + " candidates");
                    }
                    CandidateLosses.Builder losses = CandidateLosses.newBuilder();
                    for (int c = 0; c < candidates.size(); c++) {
                        install(cnn, candidates.get(c)[0], candidates.get(c)[1]);
                        cnn.setBatchNormStatistics(BnStatisticsWire.decode("bn_statistics.candidates[" + c + "]", aggregated.getCandidates(c), cnn.batchNormChannels()));
                        losses.addLosses((float) evaluate(cnn, images.train(), images.train().size(), spec.getBatchSize())[0]);
                    }
                    out.setCandidateLosses(losses).setSampleCount(images.train().size());
                } else {
                    throw new IllegalArgumentException("abns_step: " + spec.getAbnsStep() + " is not a step of adaptive BN selection");
                }
                heldMaskArtifact = null; // the candidates replaced the mask
            }
        } else {
            byte[] mask = spec.getMaskArtifactId().equals(heldMaskArtifact) ? null : download(spec.getMaskArtifactId());
            byte[] weights = download(spec.getWeightsArtifactId());
            synchronized (DJL_LOCK) {
                MaskedCnn cnn = model(task);
                if (mask != null) {
                    installMask(cnn, mask);
                    heldMaskArtifact = spec.getMaskArtifactId();
                }
                installWeights(cnn, weights);
                int evaluated = spec.getEvaluationImages() == 0 ? images.heldOut().size() : Math.min(spec.getEvaluationImages(), images.heldOut().size());
                double[] prior = evaluate(cnn, images.heldOut(), evaluated, spec.getBatchSize());
                out.setPriorModelQuality(ModelQuality.newBuilder().setMetric("accuracy").setValue(prior[1]).setSamples(evaluated).setLowerIsBetter(false));
                metrics.put("prior_accuracy", prior[1]);
                metrics.put("prior_loss", prior[0]);
                if (task.getKind() == TaskKind.TASK_KIND_EVALUATION) {
                    out.setSampleCount(evaluated);
                } else {
                    out.setSampleCount(images.train().size());
                    long trainStarted = System.nanoTime();
                    BatchOrder order = new BatchOrder(images.train(), spec.getBatchSize(),
                            new SplittableRandom(spec.getSeed() * 1_000_003L + spec.getTrainingRound() * 7919L + agentName.hashCode()));
                    int steps = localSteps(spec, images.train().size());
                    cnn.setOptimizer(spec.getMomentum(), spec.getWeightDecay());
                    RexLearningRate rex = startExtrusion(cnn, spec, steps, metrics);
                    NsConvCnn sap = activationPruning(cnn, spec);
                    double lossSum = 0;
                    long activationPeak = 0;
                    long activationDense = 0;
                    for (int s = 0; s < steps; s++) {
                        if (cancelled.getAsBoolean()) {
                            if (rex != null) {
                                cnn.setExtrusion(Map.of(), 0f); // the next task starts without this one's marks
                            }
                            throw new dev.fedprune.agent.task.TaskCancelledException(task.getTaskId());
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
                        metrics.put("bae_marked_norm_end", cnn.markedNorm());
                        cnn.setExtrusion(Map.of(), 0f);
                    }
                    if (sap != null) {
                        // Measured from the buffers the layer-wise trainer held (ActivationMemory).
                        metrics.put("activation_peak_bytes", (double) activationPeak);
                        metrics.put("activation_dense_bytes", (double) activationDense);
                        metrics.put("activation_bytes_measured", 1.0);
                    } else {
                        // Whole-graph autograd keeps its cache inside the engine: computed from the layer shapes.
                        cnn.wholeGraphCacheBytes(spec.getBatchSize()).ifPresent(bytes -> {
                            metrics.put("activation_peak_bytes", (double) bytes);
                            metrics.put("activation_dense_bytes", (double) bytes);
                            metrics.put("activation_bytes_measured", 0.0);
                        });
                    }
                    metrics.put("local_steps", (double) steps);
                    metrics.put("train_loss", lossSum / steps);
                    metrics.put("train_images_per_second", steps * (double) order.batchSize() / ((System.nanoTime() - trainStarted) / 1e9));
                    if (spec.getMode() == TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT) {
                        pruneAccuracy(cnn, spec, images.heldOut(), evaluated, metrics); // after the throughput: two evaluations, not training
                    }
                    SparseUpdate.Builder update = SparseUpdate.newBuilder();
                    for (LayerShape l : cnn.sparseLayers()) {
                        update.addTensors(SparseTensorWire.encode(l.name(), SparseTensor.ofDense(cnn.weights(l.name()))));
                    }
                    cnn.denseState().forEach((name, values) -> update.addTensors(SparseTensorWire.encode(name, full(values))));
                    out.setSparseUpdate(update);
                    if (spec.getMode() == TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT) {
                        Map<String, Integer> topK = new LinkedHashMap<>();
                        for (TopKRequest r : spec.getTopKList()) {
                            topK.put(r.getTensorName(), r.getK());
                        }
                        LabeledImages.Batch b = order.next(); // the first batch after local training [C]
                        Map<String, SparseTensor> gradients = cnn.topKInactiveGradients(b.pixels(), b.labels(), topK);
                        TopKGradients.Builder g = TopKGradients.newBuilder();
                        gradients.forEach((name, t) -> g.addTensors(SparseTensorWire.encode(name, t)));
                        out.setTopKGradients(g);
                        metrics.put("top_k_buffer_bytes", (double) topK.values().stream().mapToLong(k -> 8L * k).sum());
                    }
                }
            }
        }
        metrics.put("compute_seconds", (System.nanoTime() - started) / 1e9);
        metrics.put("model_bytes_down", (double) (bytesDown - downBefore)); // global weights, mask, candidates: what the dashboard shows as bytes down
        return new Result(out.build(), metrics);
    }

    /**
     * FedMef budget-aware extrusion in an adjustment round (algorithms.md 4.4 step 3, the paper's column):
     * in every layer to be adjusted, the k lowest-magnitude active weights of the received model are the
     * ones the coordinator will prune; they are penalised with {@code λ·‖Θ_low‖₂²} and the learning rate
     * follows {@code max(η, β_b)} with the REX profile over this round's local steps (the budget
     * {@code B_bud}; local training here is counted in steps, not epochs). Returns null when the task asks
     * for no extrusion. The marked weights' norm before and after training goes into the metrics.
     */
    private static RexLearningRate startExtrusion(MaskedCnn cnn, TrainingTaskSpec spec, int steps, Map<String, Double> metrics) {
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
        metrics.put("bae_marked_weights", (double) count);
        metrics.put("bae_marked_norm_start", cnn.markedNorm());
        return new RexLearningRate(steps, spec.getLearningRate());
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
    private static void pruneAccuracy(MaskedCnn cnn, TrainingTaskSpec spec, LabeledImages heldOut, int count, Map<String, Double> metrics) {
        if (count == 0 || spec.getTopKCount() == 0) {
            return;
        }
        metrics.put("prune_accuracy_before", evaluate(cnn, heldOut, count, spec.getBatchSize())[1]);
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
        metrics.put("prune_accuracy_after", evaluate(cnn, heldOut, count, spec.getBatchSize())[1]);
        savedMasks.forEach(cnn::setKeepMask);
        savedWeights.forEach(cnn::setWeights);
    }

    // ------------------------------------------------------------------ model

    private MaskedCnn model(Task task) {
        TrainingTaskSpec spec = task.getTraining();
        String key = task.getJobId() + "/" + task.getModel().getModelId();
        if (model != null && key.equals(modelKey)) {
            return model;
        }
        if (model != null) {
            model.close();
            model = null;
        }
        CnnModelSpec m = spec.getModel();
        MaskedCnn cnn = switch (m.getArchitecture()) {
            case CNN_ARCHITECTURE_SMALL_VGG -> new SmallVggCnn(new CnnConfig(m.getImageChannels(), m.getImageSide(),
                    m.getChannelsList().stream().mapToInt(Integer::intValue).toArray(), m.getClasses()), spec.getSeed(), device);
            case CNN_ARCHITECTURE_NSCONV_VGG -> new NsConvCnn(new CnnConfig(m.getImageChannels(), m.getImageSide(),
                    m.getChannelsList().stream().mapToInt(Integer::intValue).toArray(), m.getClasses()), spec.getSeed(), device);
            case CNN_ARCHITECTURE_RESNET18 -> new ResNet18(m.getImageChannels(), m.getImageSide(), m.getClasses(), m.getWidth(), spec.getSeed(), device);
            default -> throw new IllegalArgumentException("model.architecture: " + m.getArchitecture() + " is not a CNN this agent can build");
        };
        try {
            checkManifest(cnn, task.getModel());
        } catch (RuntimeException e) {
            cnn.close();
            throw e;
        }
        model = cnn;
        modelKey = key;
        heldMaskArtifact = null;
        return cnn;
    }

    /** The task's manifest must list exactly the tensors of the CNN this agent built, with the same shapes. */
    static void checkManifest(MaskedCnn cnn, dev.fedprune.proto.v1.ModelManifest manifest) {
        Map<String, long[]> sparse = new LinkedHashMap<>();
        for (LayerShape l : cnn.sparseLayers()) {
            sparse.put(l.name(), l.shape());
        }
        Map<String, float[]> dense = cnn.denseState();
        int seen = 0;
        for (TensorEntry t : manifest.getTensorsList()) {
            long[] shape = t.getShapeList().stream().mapToLong(Long::longValue).toArray();
            if (t.getPrunable()) {
                long[] own = sparse.get(t.getName());
                if (own == null || !java.util.Arrays.equals(own, shape)) {
                    throw new IllegalArgumentException("model.tensors[" + t.getName() + "]: sparse layer of shape " + java.util.Arrays.toString(shape)
                            + ", this agent's CNN has " + (own == null ? "no such layer" : java.util.Arrays.toString(own)));
                }
            } else {
                float[] own = dense.get(t.getName());
                long size = java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
                if (own == null || own.length != size) {
                    throw new IllegalArgumentException("model.tensors[" + t.getName() + "]: dense tensor of " + size + " values, this agent's CNN has "
                            + (own == null ? "no such tensor" : own.length + " values"));
                }
            }
            seen++;
        }
        if (seen != sparse.size() + dense.size()) {
            throw new IllegalArgumentException("model.tensors: " + seen + " tensors, this agent's CNN has " + (sparse.size() + dense.size()));
        }
    }

    private void install(MaskedCnn cnn, byte[] weights, byte[] mask) throws IOException {
        installMask(cnn, mask);
        installWeights(cnn, weights);
    }

    /** Installs the prune masks (1 = inactive) of a MaskSet as keep-masks. */
    private void installMask(MaskedCnn cnn, byte[] maskSet) throws IOException {
        Map<String, Long> sizes = new LinkedHashMap<>();
        cnn.sparseLayers().forEach(l -> sizes.put(l.name(), (long) l.weightCount()));
        Map<String, BitMask> masks = new LinkedHashMap<>();
        MaskWire.decode("mask", MaskSet.parseFrom(maskSet), sizes).forEach((name, pruned) -> {
            BitMask k = new BitMask(pruned.length());
            for (long i = 0; i < pruned.length(); i++) {
                if (!pruned.get(i)) {
                    k.set(i);
                }
            }
            masks.put(name, k);
        });
        masks.forEach(cnn::setKeepMask);
        keep = masks;
    }

    /** Installs global weights: active values of the sparse layers (only at active positions) and the dense tensors. */
    private void installWeights(MaskedCnn cnn, byte[] updateBytes) throws IOException {
        SparseUpdate update = SparseUpdate.parseFrom(updateBytes);
        Map<String, float[]> dense = cnn.denseState();
        Map<String, float[]> newDense = new LinkedHashMap<>();
        Map<String, float[]> newSparse = new LinkedHashMap<>();
        Map<String, Integer> sizes = new LinkedHashMap<>();
        cnn.sparseLayers().forEach(l -> sizes.put(l.name(), l.weightCount()));
        for (dev.fedprune.proto.v1.SparseTensor t : update.getTensorsList()) {
            String field = "weights[" + t.getTensorName() + "]";
            Integer sparseSize = sizes.get(t.getTensorName());
            long size = sparseSize != null ? sparseSize : dense.containsKey(t.getTensorName()) ? dense.get(t.getTensorName()).length : -1;
            if (size < 0) {
                throw new IllegalArgumentException(field + ": not a tensor of this CNN");
            }
            SparseTensor decoded = SparseTensorWire.decode(field, t, size);
            if (sparseSize != null) {
                BitMask k = keep.get(t.getTensorName());
                for (int i : decoded.indices()) {
                    if (k == null || !k.get(i)) {
                        throw new IllegalArgumentException(field + ": index " + i + " is an inactive weight of the mask");
                    }
                }
                newSparse.put(t.getTensorName(), decoded.toDense());
            } else {
                newDense.put(t.getTensorName(), decoded.toDense());
            }
        }
        if (!newSparse.keySet().equals(sizes.keySet()) || !newDense.keySet().equals(dense.keySet())) {
            throw new IllegalArgumentException("weights: tensors " + newSparse.keySet() + " + " + newDense.keySet() + ", the CNN has "
                    + sizes.keySet() + " + " + dense.keySet());
        }
        newSparse.forEach(cnn::setWeights);
        cnn.setDenseState(newDense);
    }

    /** Mean cross-entropy and accuracy over the first {@code count} images, in inference mode. */
    private static double[] evaluate(MaskedCnn cnn, LabeledImages images, int count, int batchSize) {
        int[] all = new int[count];
        for (int i = 0; i < count; i++) {
            all[i] = i;
        }
        double loss = 0;
        double correct = 0;
        for (int from = 0; from < count; from += batchSize) {
            int to = Math.min(count, from + batchSize);
            LabeledImages.Batch b = images.batch(all, from, to);
            float[] r = cnn.evaluate(b.pixels(), b.labels());
            loss += (double) r[0] * b.size();
            correct += (double) r[1] * b.size();
        }
        return new double[] {loss / count, correct / count};
    }

    private static List<MaskedCnn.LabeledBatch> batches(LabeledImages images, int batchSize) {
        int[] all = new int[images.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        List<MaskedCnn.LabeledBatch> out = new ArrayList<>();
        for (int from = 0; from < all.length; from += batchSize) {
            LabeledImages.Batch b = images.batch(all, from, Math.min(all.length, from + batchSize));
            out.add(new MaskedCnn.LabeledBatch(b.pixels(), b.labels()));
        }
        return out;
    }

    /** Mini-batches in a seeded random order, reshuffled after every pass over the data. */
    static final class BatchOrder {
        private final LabeledImages images;
        private final int batchSize;
        private final SplittableRandom random;
        private final int[] order;
        private int position;

        BatchOrder(LabeledImages images, int batchSize, SplittableRandom random) {
            this.images = images;
            this.batchSize = Math.min(batchSize, images.size());
            this.random = random;
            this.order = new int[images.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            shuffle();
        }

        int batchSize() {
            return batchSize;
        }

        LabeledImages.Batch next() {
            if (position + batchSize > order.length) {
                shuffle();
            }
            LabeledImages.Batch b = images.batch(order, position, position + batchSize);
            position += batchSize;
            return b;
        }

        private void shuffle() {
            for (int i = order.length - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            position = 0;
        }
    }

    // ------------------------------------------------------------------ data and wire

    private LocalImages data(String jobId, CnnModelSpec m) throws IOException {
        Path dataDir = localData.imagesFor(jobId);
        if (m.getImageChannels() != 1) {
            throw new IllegalArgumentException("model.image_channels: " + m.getImageChannels() + "; this agent's IDX images are grey (1 channel)");
        }
        String key = m.getImageSide() + "/" + m.getClasses();
        if (data == null || !key.equals(dataKey)) {
            data = LocalImages.load(dataDir, m.getImageSide(), m.getClasses());
            dataKey = key;
        }
        return data;
    }

    private byte[] download(String artifactId) throws IOException {
        if (artifactId.isEmpty() || !artifactId.startsWith("sha256:")) {
            throw new IllegalArgumentException("artifact id '" + artifactId + "' is not a sha256: id");
        }
        Files.createDirectories(workDir);
        Path file = Files.createTempFile(workDir, "artifact", ".bin");
        try {
            Files.delete(file);
            bytesDown += client.download(artifactId, artifactId.substring("sha256:".length()), file);
            return Files.readAllBytes(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static SparseTensor full(float[] values) {
        int[] indices = new int[values.length];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = i;
        }
        return new SparseTensor(values.length, indices, values);
    }

    @Override
    public void close() {
        synchronized (DJL_LOCK) {
            if (model != null) {
                model.close();
                model = null;
            }
        }
    }
}
