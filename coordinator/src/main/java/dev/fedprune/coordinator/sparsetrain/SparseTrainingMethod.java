package dev.fedprune.coordinator.sparsetrain;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.sparsetrain.Allocation;
import dev.fedprune.aggregation.sparsetrain.CandidatePool;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import dev.fedprune.aggregation.sparsetrain.DensityAllocation;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.SparseTrainingSpec;
import dev.fedprune.coordinator.method.MethodContext;
import dev.fedprune.coordinator.method.SpecProvider;
import dev.fedprune.coordinator.round.EvaluationRound;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.coordinator.round.MethodReport;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.CnnModelSpec;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorEntry;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Federated sparse training of a CNN on the coordinator (algorithms.md section 3, issue 8): rounds of
 * sparse FedAvg over a global keep-mask ({@link TrainingPhase}); for FedTiny, adaptive BN selection of the
 * initial mask before round 0 ({@link AbnsPhase}, two extra rounds); a last {@link EvaluationRound} in which
 * agents evaluate the final model. The global model ({@link GlobalModel}) never leaves as anything but artifacts.
 *
 * <p>Engine rounds map to phases: {@code [ABNS statistics, ABNS losses,] training t = 0 … R−1, evaluation}.
 * Each closed round records the artifact ids of the global model in {@code rounds/N/state.json}, so a
 * restarted coordinator reloads the model from the artifact store.
 */
public final class SparseTrainingMethod implements JobMethod {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    enum Phase { BN_STATISTICS, CANDIDATE_LOSSES, TRAINING, EVALUATION }

    private final SparseTrainingSpec spec;
    private final long seed;
    private final CnnLayout layout;
    private final List<LayerShape> layers;
    private final Map<String, Long> allSizes = new LinkedHashMap<>();
    private final Path jobDir;
    private final int abnsRounds;
    private final GlobalModel model;
    private final AbnsPhase abns;
    private final TrainingPhase training;
    private final EvaluationRound evaluation = new EvaluationRound(SparseTrainingMethod::checkAccuracy);
    private Double finalAccuracy;

    /** Registers federated sparse training ({@code method: sparse_training}) with the engine. */
    public static final class Provider extends SpecProvider<SparseTrainingSpec> {
        public Provider() {
            super(SparseTrainingSpec.NAME, SparseTrainingSpec.class, SparseTrainingSpec.FIELDS, SparseTrainingSpec::parse, SparseTrainingSpec::write);
        }

        /** Refuses, naming the field, a density that leaves a sparse layer of the CNN without any weight. */
        @Override
        public void checkInputs(JobSpec job, SparseTrainingSpec spec) {
            List<LayerShape> layers = spec.layout().sparseLayers();
            long budget = DensityAllocation.budget(layers, spec.density());
            if (budget < layers.size()) {
                throw new InvalidJobSpecException("density", "density " + spec.density() + " keeps " + budget + " weights for "
                        + layers.size() + " sparse layers of " + spec.architecture().label() + "; every layer needs at least one");
            }
            if (spec.robustAggregation() != null) {
                spec.robustAggregation().checkAgents(job.quorum());
            }
        }

        @Override
        public String describe(JobSpec job, SparseTrainingSpec t) {
            return "sparse training " + t.variant().label() + " of " + t.architecture().label() + " at density " + t.density() + ", "
                    + t.rounds() + " rounds, " + job.agentsPerRound() + " agents per round";
        }

        /** The coordinator builds and initialises the CNN itself from the spec: there is no model directory. */
        @Override
        public JobMethod create(MethodContext<SparseTrainingSpec> context) throws IOException {
            return new SparseTrainingMethod(context.spec(), context.job().seed(), context.jobDir(), context.artifacts());
        }
    }

    public SparseTrainingMethod(SparseTrainingSpec spec, long seed, Path jobDir, ArtifactStore artifacts) throws IOException {
        this.spec = spec;
        this.seed = seed;
        this.layout = spec.layout();
        this.layers = layout.sparseLayers();
        this.jobDir = jobDir;
        Map<String, Long> sparseSizes = new LinkedHashMap<>();
        Map<String, Long> denseSizes = new LinkedHashMap<>();
        for (LayerShape l : layers) {
            sparseSizes.put(l.name(), (long) l.weightCount());
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            denseSizes.put(t.name(), (long) t.size());
        }
        allSizes.putAll(sparseSizes);
        allSizes.putAll(denseSizes);
        this.abnsRounds = spec.variant().selectsCandidate() ? 2 : 0;
        this.model = new GlobalModel(layout, seed, sparseSizes, denseSizes, allSizes, artifacts);
        this.training = new TrainingPhase(spec, layers, sparseSizes, denseSizes, allSizes, model);
        Files.createDirectories(jobDir);
        if (spec.variant().selectsCandidate()) {
            this.abns = new AbnsPhase(spec, seed, layout, model, artifacts);
        } else {
            this.abns = null;
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
                masks = GlobalModel.randomErkMasks(layers, spec.density(), seed);
            } else {
                masks = model.byName(CandidatePool.generate(layers, model.initialWeights(), spec.density(), List.of(new Allocation.Erk())).get(0).keepMasks());
            }
            model.install(masks, model.masked(masks), layout.initialDenseState());
        }
    }

    // ------------------------------------------------------------------ manifest

    /** The model as the engine describes it: sparse layers prunable, every tensor F32. */
    @Override
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

    @Override
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

    /** {@code k_ℓ} of every layer of the block adjusted in training round {@code t}; empty outside adjustment rounds. */
    Map<String, Integer> topK(int t) {
        return training.topK(t);
    }

    @Override
    public Task.Builder taskTemplate(int roundIndex) {
        TrainingTaskSpec.Builder task = TrainingTaskSpec.newBuilder().setModel(modelSpec()).setLocalSteps(spec.localSteps())
                .setLocalEpochs(spec.localEpochs()).setMomentum(spec.momentum()).setWeightDecay(spec.weightDecay())
                .setBatchSize(spec.batchSize()).setLearningRate(spec.learningRate()).setSeed(seed)
                .setEvaluationImages(spec.evaluationImages());
        TaskKind kind;
        switch (phase(roundIndex)) {
            case BN_STATISTICS, CANDIDATE_LOSSES -> {
                kind = TaskKind.TASK_KIND_BN_CANDIDATE_SCORES;
                abns.taskTemplate(roundIndex, task);
            }
            case TRAINING -> {
                int t = trainingRound(roundIndex);
                kind = training.adjusts(t) ? TaskKind.TASK_KIND_TOP_K_GRADIENTS : TaskKind.TASK_KIND_SPARSE_UPDATE;
                training.taskTemplate(t, task);
            }
            default -> {
                kind = TaskKind.TASK_KIND_EVALUATION;
                task.setWeightsArtifactId(model.weightsArtifact()).setMaskArtifactId(model.maskArtifact());
            }
        }
        return Task.newBuilder().setKind(kind).setTraining(task);
    }

    @Override
    public void openRound(int roundIndex) {
        switch (phase(roundIndex)) {
            case BN_STATISTICS, CANDIDATE_LOSSES -> abns.open(roundIndex);
            case TRAINING -> training.open(trainingRound(roundIndex));
            case EVALUATION -> evaluation.open();
        }
    }

    @Override
    public void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException {
        fold(roundIndex, agentId, contribution.message());
    }

    /** Validates and folds a contribution already in memory. */
    public void fold(int roundIndex, String agentId, Contribution contribution) {
        switch (phase(roundIndex)) {
            case BN_STATISTICS, CANDIDATE_LOSSES -> abns.fold(roundIndex, agentId, contribution);
            case TRAINING -> training.fold(agentId, contribution);
            case EVALUATION -> evaluation.fold(contribution);
        }
    }

    /** The accuracy of the global model the task started from, which every training and evaluation task reports. */
    static ModelQuality checkAccuracy(Contribution contribution) {
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
    public RoundSummary closeRound(int roundIndex, StoredContributions stored) throws IOException {
        RoundSummary summary = switch (phase(roundIndex)) {
            case BN_STATISTICS, CANDIDATE_LOSSES -> abns.close(roundIndex);
            case TRAINING -> training.close(roundIndex, trainingRound(roundIndex));
            case EVALUATION -> {
                EvaluationRound.Result measured = evaluation.close(roundIndex);
                finalAccuracy = measured.meanValue();
                yield RoundSummary.of(measured.agents(), new EvaluationSummary("evaluation", finalAccuracy, measured.samples()));
            }
        };
        saveState(roundIndex);
        return summary;
    }

    /** The evaluation round: the final model's accuracy over every agent's held-out images. */
    record EvaluationSummary(String phase, double accuracy, long evaluationImages) implements RoundSummary.Detail {
    }

    /** Overall density of the sparse layers of the global model. */
    double density() {
        return model.density();
    }

    // ------------------------------------------------------------------ restart and result

    private void saveState(int roundIndex) throws IOException {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("weightsArtifact", model.installed() ? model.weightsArtifact() : null);
        state.put("maskArtifact", model.installed() ? model.maskArtifact() : null);
        state.put("candidateStatisticsArtifact", abns == null ? null : abns.candidateStatisticsArtifact());
        state.put("selectedCandidate", abns == null ? null : abns.selectedCandidate());
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
        if (abns != null) {
            abns.restore(state.hasNonNull("candidateStatisticsArtifact") ? state.get("candidateStatisticsArtifact").asString() : null,
                    state.hasNonNull("selectedCandidate") ? state.get("selectedCandidate").asInt() : null);
        }
        finalAccuracy = state.hasNonNull("finalAccuracy") ? state.get("finalAccuracy").asDouble() : null;
        if (state.hasNonNull("maskArtifact")) {
            model.restore(state.get("maskArtifact").asString(), state.get("weightsArtifact").asString());
        }
    }

    @Override
    public SparseTrainingReport finish(Path resultDir) throws IOException {
        model.writeResult(resultDir, spec);
        Map<String, BitMask> keep = model.keep();
        Map<String, Double> layerDensity = new LinkedHashMap<>();
        keep.forEach((name, m) -> layerDensity.put(name, (double) m.cardinality() / m.length()));
        double density = model.density();
        return new SparseTrainingReport(SparseTrainingSpec.NAME, spec.variant().label(), spec.density(), density, 1 - density, layerDensity,
                keep.values().stream().mapToLong(BitMask::cardinality).sum(), layout.sparseWeightCount(), finalAccuracy,
                abns == null ? null : abns.selectedCandidate(), abns == null ? null : abns.selectedAllocation());
    }

    /** The trained model's density overall and per layer, its final accuracy, and the ABNS candidate it started from. */
    public record SparseTrainingReport(String method, String variant, double targetDensity, double density, double overallSparsity,
                                       Map<String, Double> layerDensity, long keptWeights, long sparseWeights, Double finalAccuracy,
                                       @JsonInclude(JsonInclude.Include.NON_NULL) Integer selectedCandidate,
                                       @JsonInclude(JsonInclude.Include.NON_NULL) String selectedAllocation) implements MethodReport {
    }
}
