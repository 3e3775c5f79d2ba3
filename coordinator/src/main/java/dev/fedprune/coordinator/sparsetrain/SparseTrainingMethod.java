package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.ActiveWeightsCheck;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.Allocation;
import dev.fedprune.aggregation.sparsetrain.BlockOrder;
import dev.fedprune.aggregation.sparsetrain.BlockPartition;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.aggregation.sparsetrain.BnStatisticsAccumulator;
import dev.fedprune.aggregation.sparsetrain.Candidate;
import dev.fedprune.aggregation.sparsetrain.CandidatePool;
import dev.fedprune.aggregation.sparsetrain.CandidateSelection;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import dev.fedprune.aggregation.sparsetrain.DensityAllocation;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.PruneAndGrow;
import dev.fedprune.aggregation.sparsetrain.RoundMode;
import dev.fedprune.aggregation.sparsetrain.TopKGradientAggregator;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.fedprllm.GlobalMaskFile;
import dev.fedprune.coordinator.fedprllm.MaskSets;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.proto.v1.AbnsStep;
import dev.fedprune.proto.v1.CandidateBnStatistics;
import dev.fedprune.proto.v1.CandidateModel;
import dev.fedprune.proto.v1.CnnModelSpec;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorEntry;
import dev.fedprune.proto.v1.TopKRequest;
import dev.fedprune.proto.v1.TrainingRoundMode;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Federated sparse training of a CNN on the coordinator (algorithms.md section 3, issue 8): rounds of
 * sparse FedAvg weighted by sample count over a global keep-mask; for FedTiny, adaptive BN selection of
 * the initial mask before round 0 (two extra rounds, O-17) and prune-and-grow of one block per
 * adjustment round from the agents' aggregated top-K gradients (O-11, O-12, O-13); a last round in
 * which agents evaluate the final model. The global model never leaves this class as anything but
 * artifacts: active weights as sparse tensors, the mask as a (bit-packed or entropy-coded) MaskSet
 * that only changes at round 0 and after an adjustment.
 *
 * <p>Engine rounds map to phases: {@code [ABNS statistics, ABNS losses,] training t = 0 … R−1, evaluation}.
 * Each closed round records the artifact ids of the global model in {@code rounds/N/state.json}, so a
 * restarted coordinator reloads the model from the artifact store.
 */
public final class SparseTrainingMethod implements JobMethod {
    /** Dirichlet concentration of the perturbed-ERK candidates beyond ERK, uniform and ER ([U], algorithms.md 3.3 A1). */
    static final double CANDIDATE_CONCENTRATION = 1.0;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    enum Phase { BN_STATISTICS, CANDIDATE_LOSSES, TRAINING, EVALUATION }

    private final SparseTrainingSpec spec;
    private final long seed;
    private final CnnLayout layout;
    private final List<LayerShape> layers;
    private final Map<String, Long> sparseSizes = new LinkedHashMap<>();
    private final Map<String, Long> denseSizes = new LinkedHashMap<>();
    private final Map<String, Long> allSizes = new LinkedHashMap<>();
    private final Path jobDir;
    private final ArtifactStore artifacts;
    private final int abnsRounds;
    private final AdjustmentSchedule schedule;
    private final List<List<Integer>> blocks;
    private final List<float[]> initialWeights;

    // The global model after the last closed round.
    private Map<String, BitMask> keep;
    private Map<String, float[]> weights;
    private Map<String, float[]> dense;
    private String weightsArtifact;
    private String maskArtifact;
    private Double finalAccuracy;
    private Integer selectedCandidate;

    // ABNS.
    private List<Candidate> candidates = List.of();
    private final List<CandidateModel> candidateModels = new ArrayList<>();
    private List<Map<String, BnStatistics>> candidateStatistics;
    private String candidateStatisticsArtifact;

    // The open round.
    private SparseFedAvg weightSums;
    private TopKGradientAggregator gradientSums;
    private Map<String, Integer> roundTopK = Map.of();
    private List<BnStatisticsAccumulator> bnSums;
    private Set<String> bnAgents;
    private CandidateSelection selection;
    private double qualitySum;
    private long qualitySamples;

    public SparseTrainingMethod(JobSpec job, Path jobDir, ArtifactStore artifacts) throws IOException {
        this.spec = job.sparseTraining();
        this.seed = job.seed();
        this.layout = spec.layout();
        this.layers = layout.sparseLayers();
        this.jobDir = jobDir;
        this.artifacts = artifacts;
        for (LayerShape l : layers) {
            sparseSizes.put(l.name(), (long) l.weightCount());
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            denseSizes.put(t.name(), (long) t.size());
        }
        allSizes.putAll(sparseSizes);
        allSizes.putAll(denseSizes);
        this.abnsRounds = spec.variant().selectsCandidate() ? 2 : 0;
        this.blocks = BlockPartition.balanced(layers, spec.effectiveBlocks());
        this.schedule = spec.variant().adjustsMask()
                ? new AdjustmentSchedule(spec.adjustAlpha(), spec.adjustInterval(), spec.adjustStopRound(), blocks.size(), BlockOrder.OUTPUT_TO_INPUT)
                : null;
        this.initialWeights = layout.initialWeights(seed);
        Files.createDirectories(jobDir);
        if (spec.variant().selectsCandidate()) {
            candidates = CandidatePool.generate(layers, initialWeights, spec.density(),
                    CandidatePool.defaultAllocations(spec.candidates(), CANDIDATE_CONCENTRATION, seed));
            for (Candidate c : candidates) {
                Map<String, BitMask> masks = byName(c.keepMasks());
                candidateModels.add(CandidateModel.newBuilder()
                        .setWeightsArtifactId(publishWeights(masks, masked(masks), layout.initialDenseState()))
                        .setMaskArtifactId(publishMask(masks)).build());
            }
        } else {
            Map<String, BitMask> masks;
            if (spec.variant() == SparseTrainingSpec.Variant.DENSE_FEDAVG) {
                masks = new LinkedHashMap<>();
                for (LayerShape l : layers) {
                    BitMask all = new BitMask(l.weightCount());
                    for (int i = 0; i < l.weightCount(); i++) {
                        all.set(i);
                    }
                    masks.put(l.name(), all);
                }
            } else if (spec.variant().randomInitialMask()) {
                masks = randomErkMasks(layers, spec.density(), seed);
            } else {
                masks = byName(CandidatePool.generate(layers, initialWeights, spec.density(), List.of(new Allocation.Erk())).get(0).keepMasks());
            }
            install(masks, masked(masks), layout.initialDenseState());
        }
    }

    /**
     * FedMef's initial mask [P]: in every sparse layer, ERK's number of kept weights at positions drawn
     * uniformly at random (a seeded partial Fisher-Yates shuffle per layer), whatever the initial weights.
     */
    static Map<String, BitMask> randomErkMasks(List<LayerShape> layers, double density, long seed) {
        int[] kept = DensityAllocation.keptCounts(layers, DensityAllocation.erk(layers, density), DensityAllocation.budget(layers, density));
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            int n = (int) layers.get(l).weightCount();
            int[] order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 1_000_003L + l);
            BitMask keep = new BitMask(n);
            for (int i = 0; i < kept[l]; i++) {
                int j = i + random.nextInt(n - i);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
                keep.set(order[i]);
            }
            masks.put(layers.get(l).name(), keep);
        }
        return masks;
    }

    /** Refuses, naming the field, a spec whose density leaves a sparse layer of its CNN without any weight. */
    public static void validate(JobSpec job) {
        SparseTrainingSpec spec = job.sparseTraining();
        List<LayerShape> layers = spec.layout().sparseLayers();
        long budget = DensityAllocation.budget(layers, spec.density());
        if (budget < layers.size()) {
            throw new InvalidJobSpecException("density", "density " + spec.density() + " keeps " + budget + " weights for "
                    + layers.size() + " sparse layers of " + spec.architecture().label() + "; every layer needs at least one");
        }
    }

    // ------------------------------------------------------------------ manifest

    /** The model as the engine describes it: sparse layers prunable, every tensor F32. */
    public ModelManifest manifest() {
        List<ModelManifest.TensorEntry> tensors = new ArrayList<>();
        for (LayerShape l : layers) {
            tensors.add(new ModelManifest.TensorEntry(l.name(), DType.F32, l.shape(), "", true));
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            tensors.add(new ModelManifest.TensorEntry(t.name(), DType.F32, new long[] {t.size()}, "", false));
        }
        String id = Digests.sha256Hex((spec.architecture().label() + " " + modelSpec() + " seed " + seed).getBytes(StandardCharsets.UTF_8));
        return new ModelManifest(id, spec.architecture().label(), tensors, List.of());
    }

    public dev.fedprune.proto.v1.ModelManifest wireManifest() {
        ModelManifest m = manifest();
        dev.fedprune.proto.v1.ModelManifest.Builder wire = dev.fedprune.proto.v1.ModelManifest.newBuilder()
                .setModelId(m.modelId()).setArchitecture(m.architecture());
        for (ModelManifest.TensorEntry t : m.tensors()) {
            TensorEntry.Builder e = TensorEntry.newBuilder().setName(t.name()).setDtype(dev.fedprune.proto.v1.DType.DTYPE_F32).setPrunable(t.prunable());
            for (long d : t.shape()) {
                e.addShape(d);
            }
            wire.addTensors(e);
        }
        return wire.build();
    }

    private CnnModelSpec modelSpec() {
        CnnModelSpec.Builder b = CnnModelSpec.newBuilder().setImageChannels(spec.imageChannels()).setImageSide(spec.imageSide())
                .setClasses(spec.classes());
        switch (spec.architecture()) {
            case SMALL_VGG -> b.setArchitecture(dev.fedprune.proto.v1.CnnArchitecture.CNN_ARCHITECTURE_SMALL_VGG);
            case NSCONV_VGG -> b.setArchitecture(dev.fedprune.proto.v1.CnnArchitecture.CNN_ARCHITECTURE_NSCONV_VGG);
            case RESNET18 -> b.setArchitecture(dev.fedprune.proto.v1.CnnArchitecture.CNN_ARCHITECTURE_RESNET18).setWidth(spec.width());
        }
        if (spec.architecture().takesChannels()) {
            for (int c : spec.channels()) {
                b.addChannels(c);
            }
        }
        return b.build();
    }

    // ------------------------------------------------------------------ rounds

    @Override
    public int totalRounds() {
        return abnsRounds + spec.rounds() + 1;
    }

    Phase phase(int roundIndex) {
        if (roundIndex < abnsRounds) {
            return roundIndex == 0 ? Phase.BN_STATISTICS : Phase.CANDIDATE_LOSSES;
        }
        return roundIndex < abnsRounds + spec.rounds() ? Phase.TRAINING : Phase.EVALUATION;
    }

    /** {@code t} of a training round. */
    int trainingRound(int roundIndex) {
        return roundIndex - abnsRounds;
    }

    private RoundMode mode(int t) {
        return schedule == null ? RoundMode.NORMAL : schedule.mode(t);
    }

    @Override
    public Task.Builder taskTemplate(int roundIndex) {
        TrainingTaskSpec.Builder training = TrainingTaskSpec.newBuilder().setModel(modelSpec()).setLocalSteps(spec.localSteps())
                .setLocalEpochs(spec.localEpochs()).setMomentum(spec.momentum()).setWeightDecay(spec.weightDecay())
                .setBatchSize(spec.batchSize()).setLearningRate(spec.learningRate()).setSeed(seed)
                .setEvaluationImages(spec.evaluationImages());
        TaskKind kind;
        switch (phase(roundIndex)) {
            case BN_STATISTICS -> {
                kind = TaskKind.TASK_KIND_BN_CANDIDATE_SCORES;
                training.setAbnsStep(AbnsStep.ABNS_STEP_BN_STATISTICS).addAllCandidates(candidateModels);
            }
            case CANDIDATE_LOSSES -> {
                kind = TaskKind.TASK_KIND_BN_CANDIDATE_SCORES;
                training.setAbnsStep(AbnsStep.ABNS_STEP_CANDIDATE_LOSSES).addAllCandidates(candidateModels)
                        .setCandidateStatisticsArtifactId(candidateStatisticsArtifact == null ? "" : candidateStatisticsArtifact);
            }
            case TRAINING -> {
                int t = trainingRound(roundIndex);
                RoundMode mode = mode(t);
                kind = mode == RoundMode.ADJUSTMENT ? TaskKind.TASK_KIND_TOP_K_GRADIENTS : TaskKind.TASK_KIND_SPARSE_UPDATE;
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
                training.setWeightsArtifactId(nonNull(weightsArtifact)).setMaskArtifactId(nonNull(maskArtifact));
            }
            default -> {
                kind = TaskKind.TASK_KIND_EVALUATION;
                training.setWeightsArtifactId(nonNull(weightsArtifact)).setMaskArtifactId(nonNull(maskArtifact));
            }
        }
        return Task.newBuilder().setKind(kind).setTraining(training);
    }

    private static String nonNull(String s) {
        return s == null ? "" : s;
    }

    /** {@code k_ℓ} of every layer of the block adjusted in training round {@code t}; empty outside adjustment rounds. */
    Map<String, Integer> topK(int t) {
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

    @Override
    public void openRound(int roundIndex) {
        weightSums = null;
        gradientSums = null;
        roundTopK = Map.of();
        bnSums = null;
        selection = null;
        qualitySum = 0;
        qualitySamples = 0;
        switch (phase(roundIndex)) {
            case BN_STATISTICS -> {
                bnSums = new ArrayList<>();
                for (int c = 0; c < candidates.size(); c++) {
                    bnSums.add(new BnStatisticsAccumulator(layout.batchNormChannels(), spec.bnPooling()));
                }
                bnAgents = new LinkedHashSet<>();
            }
            case CANDIDATE_LOSSES -> selection = new CandidateSelection(candidates.size());
            case TRAINING -> {
                Map<String, long[]> shapes = new LinkedHashMap<>();
                allSizes.forEach((name, size) -> shapes.put(name, new long[] {size}));
                weightSums = new SparseFedAvg(shapes);
                roundTopK = topK(trainingRound(roundIndex));
                if (!roundTopK.isEmpty()) {
                    Map<String, BitMask> blockMasks = new LinkedHashMap<>();
                    roundTopK.keySet().forEach(layer -> blockMasks.put(layer, keep.get(layer)));
                    gradientSums = new TopKGradientAggregator(blockMasks, roundTopK);
                }
            }
            case EVALUATION -> {
                // Only the quality sums.
            }
        }
    }

    @Override
    public void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException {
        fold(roundIndex, agentId, contribution.message());
    }

    /** Validates and folds a contribution already in memory. */
    public void fold(int roundIndex, String agentId, Contribution contribution) {
        switch (phase(roundIndex)) {
            case BN_STATISTICS -> foldBnStatistics(agentId, contribution);
            case CANDIDATE_LOSSES -> {
                if (!contribution.hasCandidateLosses()) {
                    throw new InvalidContributionException("candidate_losses", "an ABNS loss task needs candidate_losses, one per candidate");
                }
                List<Float> list = contribution.getCandidateLosses().getLossesList();
                float[] losses = new float[list.size()];
                for (int i = 0; i < losses.length; i++) {
                    losses[i] = list.get(i);
                }
                selection.fold(agentId, losses);
            }
            case TRAINING -> foldTraining(agentId, contribution);
            case EVALUATION -> {
                ModelQuality q = checkQuality(contribution);
                qualitySum += q.getValue() * q.getSamples();
                qualitySamples += q.getSamples();
            }
        }
    }

    private void foldBnStatistics(String agentId, Contribution contribution) {
        if (!contribution.hasCandidateBnStatistics()) {
            throw new InvalidContributionException("candidate_bn_statistics", "an ABNS statistics task needs BatchNorm statistics per candidate");
        }
        CandidateBnStatistics all = contribution.getCandidateBnStatistics();
        if (all.getCandidatesCount() != candidates.size()) {
            throw new InvalidContributionException("candidate_bn_statistics.candidates",
                    all.getCandidatesCount() + " candidates, expected " + candidates.size());
        }
        if (contribution.getSampleCount() < 1) {
            throw new InvalidContributionException("sample_count", "must be at least 1, got " + contribution.getSampleCount());
        }
        if (bnAgents.contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already sent BatchNorm statistics in this round");
        }
        List<Map<String, BnStatistics>> decoded = new ArrayList<>();
        for (int c = 0; c < candidates.size(); c++) {
            decoded.add(TrainingWire.fromWire("candidate_bn_statistics.candidates[" + c + "]", all.getCandidates(c), layout.batchNormChannels()));
        }
        // Everything is checked: the folds below cannot fail half-way.
        for (int c = 0; c < candidates.size(); c++) {
            bnSums.get(c).fold(agentId, contribution.getSampleCount(), decoded.get(c));
        }
        bnAgents.add(agentId);
    }

    private void foldTraining(String agentId, Contribution contribution) {
        if (!contribution.hasSparseUpdate()) {
            throw new InvalidContributionException("sparse_update", "a training task needs the trained weights as a sparse_update, got " + contribution.getPayloadCase());
        }
        if (contribution.getSampleCount() < 1) {
            throw new InvalidContributionException("sample_count", "must be at least 1, got " + contribution.getSampleCount());
        }
        ModelQuality quality = checkQuality(contribution);
        Map<String, SparseTensor> update = TrainingWire.fromWire("sparse_update.tensors", contribution.getSparseUpdate().getTensorsList(), allSizes);
        for (String name : allSizes.keySet()) {
            if (!update.containsKey(name)) {
                throw new InvalidContributionException("sparse_update.tensors", "tensor '" + name + "' is missing");
            }
        }
        Map<String, SparseTensor> sparse = new LinkedHashMap<>();
        sparseSizes.keySet().forEach(name -> sparse.put(name, update.get(name)));
        try {
            ActiveWeightsCheck.check(sparse, keep);
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
        if (weightSums.agents().contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        if (gradientSums != null) {
            if (!contribution.hasTopKGradients()) {
                throw new InvalidContributionException("top_k_gradients", "an adjustment round needs the top-K inactive gradients of " + roundTopK.keySet());
            }
            Map<String, Long> blockSizes = new LinkedHashMap<>();
            roundTopK.keySet().forEach(layer -> blockSizes.put(layer, sparseSizes.get(layer)));
            Map<String, SparseTensor> gradients = TrainingWire.fromWire("top_k_gradients.tensors", contribution.getTopKGradients().getTensorsList(), blockSizes);
            try {
                gradientSums.fold(agentId, contribution.getSampleCount(), gradients);
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

    /** The accuracy of the global model the task started from, which every training and evaluation task reports. */
    private static ModelQuality checkQuality(Contribution contribution) {
        if (!contribution.hasPriorModelQuality()) {
            throw new InvalidContributionException("prior_model_quality", "required: the accuracy of the global model on the agent's held-out images");
        }
        ModelQuality q = contribution.getPriorModelQuality();
        if (!q.getMetric().equals("accuracy") || q.getLowerIsBetter()) {
            throw new InvalidContributionException("prior_model_quality.metric", "expected accuracy (higher is better), got '" + q.getMetric() + "'");
        }
        if (!(q.getValue() >= 0 && q.getValue() <= 1)) {
            throw new InvalidContributionException("prior_model_quality.value", "an accuracy is a fraction in [0, 1], got " + q.getValue());
        }
        if (q.getSamples() < 1) {
            throw new InvalidContributionException("prior_model_quality.samples", "must be at least 1, got " + q.getSamples());
        }
        return q;
    }

    /**
     * The most a contribution can weigh, from the model alone: every tensor sent dense as a sparse
     * update (a 4-byte value and at most a 10-byte varint index per weight, 256 bytes of framing per
     * tensor), as much again for top-K gradients, one BatchNorm statistics set (mean and variance per
     * channel) per ABNS candidate, and 64 KiB for the rest. Honest agents send far less (sparse
     * updates carry surviving weights only); an upload declaring more is refused from its header.
     */
    @Override
    public long maxContributionBytes(int roundIndex) {
        long bytes = 64 * 1024;
        for (long size : allSizes.values()) {
            bytes += 2 * (size * 14 + 256);
        }
        Map<String, Integer> bn = layout.batchNormChannels();
        long channels = bn.values().stream().mapToLong(Integer::longValue).sum();
        bytes += Math.max(1, spec.candidates()) * (channels * 2 * 5 + 256L * bn.size() + 8);
        return bytes;
    }

    @Override
    public Map<String, Object> closeRound(int roundIndex, StoredContributions stored) throws IOException {
        Map<String, Object> summary = new LinkedHashMap<>();
        Phase phase = phase(roundIndex);
        summary.put("phase", phase.name().toLowerCase(java.util.Locale.ROOT));
        switch (phase) {
            case BN_STATISTICS -> {
                candidateStatistics = new ArrayList<>();
                CandidateBnStatistics.Builder wire = CandidateBnStatistics.newBuilder();
                for (BnStatisticsAccumulator acc : bnSums) {
                    Map<String, BnStatistics> s = acc.aggregate();
                    candidateStatistics.add(s);
                    wire.addCandidates(TrainingWire.toWire(s));
                }
                candidateStatisticsArtifact = artifacts.put(wire.build().toByteArray()).id();
                summary.put("agents", bnAgents.size());
                summary.put("candidates", candidates.stream().map(c -> c.allocation().label()).toList());
            }
            case CANDIDATE_LOSSES -> {
                double[] mean = selection.meanLosses();
                int best = CandidateSelection.argmin(mean);
                selectedCandidate = best;
                Candidate c = candidates.get(best);
                Map<String, BitMask> masks = byName(c.keepMasks());
                Map<String, float[]> state = layout.initialDenseState();
                candidateStatistics.get(best).forEach((bn, s) -> {
                    state.put(bn + ".runningMean", s.mean());
                    state.put(bn + ".runningVar", s.variance());
                });
                install(masks, masked(masks), state);
                summary.put("agents", selection.agentCount());
                summary.put("meanLosses", mean);
                summary.put("selectedCandidate", best);
                summary.put("selectedAllocation", c.allocation().label());
            }
            case TRAINING -> {
                int t = trainingRound(roundIndex);
                if (weightSums.agentCount() == 0) {
                    throw new IllegalStateException("round " + roundIndex + " has no folded contributions");
                }
                Map<String, BitMask> newKeep = new LinkedHashMap<>();
                Map<String, float[]> newWeights = new LinkedHashMap<>();
                Map<String, Object> adjusted = new LinkedHashMap<>();
                for (LayerShape l : layers) {
                    float[] avg = weightSums.average(l.name());
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
                denseSizes.keySet().forEach(name -> newDense.put(name, weightSums.average(name)));
                boolean maskChanged = !newKeep.equals(keep);
                if (maskChanged) {
                    install(newKeep, newWeights, newDense);
                } else {
                    weights = newWeights;
                    dense = newDense;
                    weightsArtifact = publishWeights(keep, weights, dense);
                }
                summary.put("trainingRound", t);
                summary.put("mode", mode(t).name().toLowerCase(java.util.Locale.ROOT));
                if (!adjusted.isEmpty()) {
                    summary.put("block", schedule.block(t));
                    summary.put("adjusted", adjusted);
                    summary.put("maskChanged", maskChanged);
                }
                summary.put("agents", weightSums.agentCount());
                summary.put("samples", weightSums.totalSamples());
                summary.put("priorAccuracy", qualitySamples == 0 ? null : qualitySum / qualitySamples);
                summary.put("density", density());
                Map<String, Double> sparsity = new LinkedHashMap<>();
                keep.forEach((name, m) -> sparsity.put(name, 1 - (double) m.cardinality() / m.length()));
                summary.put("sparsity", sparsity); // per layer, as FedPrLLM rounds report it
            }
            case EVALUATION -> {
                if (qualitySamples == 0) {
                    throw new IllegalStateException("round " + roundIndex + " has no folded evaluations");
                }
                finalAccuracy = qualitySum / qualitySamples;
                summary.put("accuracy", finalAccuracy);
                summary.put("evaluationImages", qualitySamples);
            }
        }
        saveState(roundIndex);
        weightSums = null;
        gradientSums = null;
        bnSums = null;
        selection = null;
        return summary;
    }

    /** Overall density of the sparse layers of the global model. */
    double density() {
        long kept = 0;
        for (BitMask m : keep.values()) {
            kept += m.cardinality();
        }
        return (double) kept / layout.sparseWeightCount();
    }

    // ------------------------------------------------------------------ global model and artifacts

    private void install(Map<String, BitMask> masks, Map<String, float[]> values, Map<String, float[]> denseState) throws IOException {
        keep = new LinkedHashMap<>(masks);
        weights = new LinkedHashMap<>(values);
        dense = new LinkedHashMap<>(denseState);
        maskArtifact = publishMask(keep);
        weightsArtifact = publishWeights(keep, weights, dense);
    }

    private Map<String, float[]> masked(Map<String, BitMask> masks) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            float[] w = initialWeights.get(l).clone();
            BitMask m = masks.get(layers.get(l).name());
            for (int i = 0; i < w.length; i++) {
                if (!m.get(i)) {
                    w[i] = 0f;
                }
            }
            out.put(layers.get(l).name(), w);
        }
        return out;
    }

    private Map<String, BitMask> byName(List<BitMask> masks) {
        Map<String, BitMask> out = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            out.put(layers.get(l).name(), masks.get(l));
        }
        return out;
    }

    /** Sparse layers as their active weights (explicit zeros included), dense tensors in full. */
    private String publishWeights(Map<String, BitMask> masks, Map<String, float[]> values, Map<String, float[]> denseState) throws IOException {
        SparseUpdate.Builder update = SparseUpdate.newBuilder();
        for (LayerShape l : layers) {
            update.addTensors(TrainingWire.toWire(l.name(), l.weightCount(), active(values.get(l.name()), masks.get(l.name()))));
        }
        for (Map.Entry<String, float[]> e : denseState.entrySet()) {
            update.addTensors(TrainingWire.toWire(e.getKey(), e.getValue().length, full(e.getValue())));
        }
        return artifacts.put(update.build().toByteArray()).id();
    }

    /** The keep-masks as prune masks (1 = inactive), each in the smaller of the two encodings. */
    private String publishMask(Map<String, BitMask> masks) throws IOException {
        return artifacts.put(MaskSets.encode(pruneMasks(masks)).toByteArray()).id();
    }

    static Map<String, BitMask> pruneMasks(Map<String, BitMask> keepMasks) {
        Map<String, BitMask> out = new LinkedHashMap<>();
        keepMasks.forEach((name, k) -> out.put(name, complement(k)));
        return out;
    }

    static BitMask complement(BitMask mask) {
        BitMask out = new BitMask(mask.length());
        for (long i = 0; i < mask.length(); i++) {
            if (!mask.get(i)) {
                out.set(i);
            }
        }
        return out;
    }

    static SparseTensor active(float[] values, BitMask keep) {
        int n = (int) keep.cardinality();
        int[] indices = new int[n];
        float[] v = new float[n];
        for (int i = 0, j = 0; i < values.length; i++) {
            if (keep.get(i)) {
                indices[j] = i;
                v[j++] = values[i];
            }
        }
        return new SparseTensor(values.length, indices, v);
    }

    static SparseTensor full(float[] values) {
        int[] indices = new int[values.length];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = i;
        }
        return new SparseTensor(values.length, indices, values.clone());
    }

    // ------------------------------------------------------------------ restart and result

    private void saveState(int roundIndex) throws IOException {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("weightsArtifact", weightsArtifact);
        state.put("maskArtifact", maskArtifact);
        state.put("candidateStatisticsArtifact", candidateStatisticsArtifact);
        state.put("selectedCandidate", selectedCandidate);
        state.put("finalAccuracy", finalAccuracy);
        Path dir = jobDir.resolve("rounds").resolve(Integer.toString(roundIndex));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("state.json"), JSON.writeValueAsString(state));
    }

    @Override
    public void restoreClosedRounds(int closedRounds) throws IOException {
        if (closedRounds == 0) {
            return;
        }
        JsonNode state = JSON.readTree(Files.readString(jobDir.resolve("rounds").resolve(Integer.toString(closedRounds - 1)).resolve("state.json")));
        if (state.hasNonNull("candidateStatisticsArtifact")) {
            candidateStatisticsArtifact = state.get("candidateStatisticsArtifact").asString();
            CandidateBnStatistics all = CandidateBnStatistics.parseFrom(artifacts.read(candidateStatisticsArtifact));
            candidateStatistics = new ArrayList<>();
            for (int c = 0; c < all.getCandidatesCount(); c++) {
                candidateStatistics.add(TrainingWire.fromWire("candidates[" + c + "]", all.getCandidates(c), layout.batchNormChannels()));
            }
        }
        selectedCandidate = state.hasNonNull("selectedCandidate") ? state.get("selectedCandidate").asInt() : null;
        finalAccuracy = state.hasNonNull("finalAccuracy") ? state.get("finalAccuracy").asDouble() : null;
        if (state.hasNonNull("maskArtifact")) {
            maskArtifact = state.get("maskArtifact").asString();
            weightsArtifact = state.get("weightsArtifact").asString();
            Map<String, BitMask> pruned = MaskSets.decode(MaskSet.parseFrom(artifacts.read(maskArtifact)), sparseSizes);
            keep = new LinkedHashMap<>();
            pruned.forEach((name, p) -> keep.put(name, complement(p)));
            Map<String, SparseTensor> stored = TrainingWire.fromWire("weights", SparseUpdate.parseFrom(artifacts.read(weightsArtifact)).getTensorsList(), allSizes);
            weights = new LinkedHashMap<>();
            dense = new LinkedHashMap<>();
            sparseSizes.keySet().forEach(name -> weights.put(name, stored.get(name).toDense()));
            denseSizes.keySet().forEach(name -> dense.put(name, stored.get(name).toDense()));
        }
    }

    @Override
    public Map<String, Object> finish(Path resultDir) throws IOException {
        Path modelOut = resultDir.resolve("model");
        Files.createDirectories(modelOut);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (LayerShape l : layers) {
            entries.add(new SafetensorsWriter.Entry(l.name(), DType.F32, l.shape()));
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            entries.add(new SafetensorsWriter.Entry(t.name(), DType.F32, new long[] {t.size()}));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "fedprune-sparse-cnn");
        metadata.put("architecture", spec.architecture().label());
        try (SafetensorsWriter writer = SafetensorsWriter.create(modelOut.resolve("model.safetensors"), entries, metadata)) {
            for (LayerShape l : layers) {
                writer.write(l.name(), weights.get(l.name()));
            }
            for (CnnLayout.DenseTensor t : layout.denseTensors()) {
                writer.write(t.name(), dense.get(t.name()));
            }
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", spec.architecture().label());
        config.put("imageChannels", spec.imageChannels());
        config.put("imageSide", spec.imageSide());
        config.put("classes", spec.classes());
        if (spec.architecture().takesChannels()) {
            config.put("channels", spec.channels());
        } else {
            config.put("width", spec.width());
        }
        Files.writeString(modelOut.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        GlobalMaskFile.write(resultDir.resolve("global-mask.safetensors"), pruneMasks(keep));

        Map<String, Object> report = new LinkedHashMap<>();
        Map<String, Double> layerDensity = new LinkedHashMap<>();
        keep.forEach((name, m) -> layerDensity.put(name, (double) m.cardinality() / m.length()));
        double density = density();
        report.put("method", "sparse_training");
        report.put("variant", spec.variant().label());
        report.put("targetDensity", spec.density());
        report.put("density", density);
        report.put("overallSparsity", 1 - density);
        report.put("layerDensity", layerDensity);
        report.put("keptWeights", keep.values().stream().mapToLong(BitMask::cardinality).sum());
        report.put("sparseWeights", layout.sparseWeightCount());
        report.put("finalAccuracy", finalAccuracy);
        if (selectedCandidate != null) {
            report.put("selectedCandidate", selectedCandidate);
            report.put("selectedAllocation", candidates.get(selectedCandidate).allocation().label());
        }
        return report;
    }
}
