package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Tensors;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.robust.AgentAgreement;
import dev.fedprune.aggregation.robust.MaskCheck;
import dev.fedprune.aggregation.robust.NmPatternCheck;
import dev.fedprune.aggregation.robust.SparsityCheck;
import dev.fedprune.aggregation.robust.TrimmedVote;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.proto.v1.ComparisonGroup;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.SparsityPattern;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * FedPrLLM on the coordinator (algorithms.md section 1): agents vote with prune masks, the votes of a
 * round are counted per weight, and the most-voted weights of each comparison group are pruned.
 * One-shot jobs vote on every prunable tensor in one round; iterative jobs vote on one decoder layer
 * per round, and agents apply the earlier rounds' global masks before computing the next layer.
 *
 * <p>Each closed round writes its pruned (optionally scaled) tensors to {@code rounds/N/pruned.safetensors}
 * and its global mask to the artifact store, so memory holds one round's votes, never a whole model.
 */
public final class FedPrLlmMethod implements JobMethod {
    private final JobSpec spec;
    private final ModelManifest manifest;
    private final Path weightsFile;
    private final Path modelDir;
    private final Path jobDir;
    private final ArtifactStore artifacts;
    private final List<List<String>> roundTensors;
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final List<String> roundMaskArtifacts = new ArrayList<>();
    private VoteAccumulator votes;
    private int evaluated;

    public FedPrLlmMethod(JobSpec spec, ModelManifest manifest, Path modelDir, Path jobDir, ArtifactStore artifacts) {
        this.spec = spec;
        this.manifest = manifest;
        this.modelDir = modelDir;
        this.weightsFile = modelDir.resolve("model.safetensors");
        this.jobDir = jobDir;
        this.artifacts = artifacts;
        TreeMap<Integer, List<String>> byLayer = new TreeMap<>();
        for (ModelManifest.TensorEntry t : manifest.prunableTensors()) {
            if (t.shape().length != 2) {
                throw new IllegalArgumentException("prunable tensor " + t.name() + " is not 2-D");
            }
            shapes.put(t.name(), t.shape());
            byLayer.computeIfAbsent(PrunableTensors.layerIndex(t.name()).orElseThrow(), k -> new ArrayList<>()).add(t.name());
        }
        if (shapes.isEmpty()) {
            throw new IllegalArgumentException("model has no prunable tensors (model.layers.N.{self_attn,mlp}.*_proj.weight)");
        }
        if (spec.nmM() > 0) {
            shapes.forEach((name, shape) -> {
                if (shape[1] % spec.nmM() != 0) {
                    throw new IllegalArgumentException("pattern " + spec.patternLabel() + " needs the input dimension of " + name + " (" + shape[1] + ") to be a multiple of " + spec.nmM());
                }
            });
        }
        this.roundTensors = spec.strategy() == JobSpec.Strategy.ONE_SHOT
                ? List.of(List.copyOf(shapes.keySet()))
                : List.copyOf(byLayer.values());
    }

    /** Voting rounds, then one evaluation round of the final model when the job asks for evaluation. */
    @Override
    public int totalRounds() {
        return votingRounds() + (spec.evaluationSamples() > 0 ? 1 : 0);
    }

    /** Rounds in which agents vote with masks (one, or one per decoder layer). */
    public int votingRounds() {
        return roundTensors.size();
    }

    private boolean isEvaluationRound(int roundIndex) {
        return roundIndex >= votingRounds();
    }

    public List<String> tensorsOfRound(int roundIndex) {
        return roundTensors.get(roundIndex);
    }

    @Override
    public Task.Builder taskTemplate(int roundIndex) {
        if (isEvaluationRound(roundIndex)) {
            // The final model: every round's global mask, measured by each agent on its own data.
            return Task.newBuilder().setKind(TaskKind.TASK_KIND_EVALUATION).setPrune(PruneTaskSpec.newBuilder()
                    .setSequenceLength(spec.sequenceLength()).setSeed(spec.seed()).setEvaluationSamples(spec.evaluationSamples())
                    .addAllPriorMaskArtifactIds(roundMaskArtifacts.subList(0, votingRounds())));
        }
        PruneTaskSpec.Builder prune = PruneTaskSpec.newBuilder()
                .setMethod(switch (spec.localPruner()) {
                    case MAGNITUDE -> PruneMethod.PRUNE_METHOD_MAGNITUDE;
                    case WANDA -> PruneMethod.PRUNE_METHOD_WANDA;
                    case SPARSEGPT -> PruneMethod.PRUNE_METHOD_SPARSEGPT;
                })
                .setSparsityRatio(spec.sparsityRatio())
                .setPattern(SparsityPattern.newBuilder().setN(spec.nmN()).setM(spec.nmM()))
                .setLocalComparisonGroup(spec.localPerRow() ? ComparisonGroup.COMPARISON_GROUP_ROW : ComparisonGroup.COMPARISON_GROUP_LAYER)
                .setCalibrationSamples(spec.calibrationSamples())
                .setSequenceLength(spec.sequenceLength())
                .setSeed(spec.seed())
                .setEvaluationSamples(spec.evaluationSamples())
                .addAllTensorNames(tensorsOfRound(roundIndex));
        TaskKind kind = TaskKind.TASK_KIND_MASK_VOTE;
        if (spec.strategy() == JobSpec.Strategy.ITERATIVE) {
            kind = TaskKind.TASK_KIND_LAYER_MASK_VOTE;
            prune.setLayerIndex(PrunableTensors.layerIndex(tensorsOfRound(roundIndex).get(0)).orElseThrow())
                    .addAllPriorMaskArtifactIds(roundMaskArtifacts.subList(0, roundIndex));
        }
        return Task.newBuilder().setKind(kind).setPrune(prune);
    }

    @Override
    public void openRound(int roundIndex) {
        if (isEvaluationRound(roundIndex)) {
            votes = null;
            evaluated = 0;
            return;
        }
        Map<String, long[]> roundShapes = new LinkedHashMap<>();
        for (String name : tensorsOfRound(roundIndex)) {
            roundShapes.put(name, shapes.get(name));
        }
        List<MaskCheck> checks = new ArrayList<>();
        checks.add(new SparsityCheck(spec.sparsityRatio(), spec.sparsityTolerance()));
        if (spec.nmM() > 0) {
            Map<String, Long> columns = new LinkedHashMap<>();
            roundShapes.forEach((name, shape) -> columns.put(name, shape[1]));
            checks.add(new NmPatternCheck(spec.nmN(), spec.nmM(), columns));
        }
        votes = new VoteAccumulator(roundShapes, MaskCheck.all(checks.toArray(MaskCheck[]::new)));
    }

    @Override
    public void fold(int roundIndex, String agentId, Contribution contribution) {
        if (isEvaluationRound(roundIndex)) {
            // The round engine has already checked the measurement itself.
            if (!contribution.hasPriorModelQuality()) {
                throw new InvalidContributionException("prior_model_quality", "an evaluation task needs the measured quality, got none");
            }
            evaluated++;
            return;
        }
        if (!contribution.hasMasks()) {
            throw new InvalidContributionException("payload", "a mask-vote task needs a MaskSet payload, got " + contribution.getPayloadCase());
        }
        Map<String, BitMask> masks = MaskSets.decode(contribution.getMasks(), weightsOfRound(roundIndex));
        if (spec.weightVotesBySamples()) {
            if (contribution.getSampleCount() <= 0) {
                throw new InvalidContributionException("sample_count", "this job weights votes by calibration samples; got " + contribution.getSampleCount());
            }
            votes.fold(agentId, masks, contribution.getSampleCount());
        } else {
            votes.fold(agentId, masks);
        }
    }

    /**
     * Bit-packed masks of the round's tensors (1 bit per weight, the largest encoding agents send: the
     * entropy-coded one is only used when smaller) plus 256 bytes of names and framing per tensor and
     * 64 KiB for the rest (task id, sample count, quality); an evaluation task carries no masks.
     */
    @Override
    public long maxContributionBytes(int roundIndex) {
        long bytes = 64 * 1024;
        if (!isEvaluationRound(roundIndex)) {
            for (long weights : weightsOfRound(roundIndex).values()) {
                bytes += (weights + 7) / 8 + 256;
            }
        }
        return bytes;
    }

    private Map<String, Long> weightsOfRound(int roundIndex) {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (String name : tensorsOfRound(roundIndex)) {
            long[] s = shapes.get(name);
            expected.put(name, s[0] * s[1]);
        }
        return expected;
    }

    @Override
    public Map<String, Object> closeRound(int roundIndex, StoredContributions stored) throws IOException {
        if (isEvaluationRound(roundIndex)) {
            if (evaluated == 0) {
                throw new IllegalStateException("evaluation round " + roundIndex + " has no folded measurements");
            }
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("agents", evaluated);
            summary.put("evaluation", true);
            return summary;
        }
        if (votes == null || votes.agentCount() == 0) {
            throw new IllegalStateException("round " + roundIndex + " has no folded contributions");
        }
        SelectionSpec selection = new SelectionSpec(spec.comparisonGroup(), spec.sparsityRatio(), spec.nmN(), spec.nmM(),
                spec.tieBreak(), spec.seed());
        int agents = votes.agentCount();
        Map<String, Long> weights = weightsOfRound(roundIndex);
        TrimmedVote.ContributionSource source = agentId -> MaskSets.decode(stored.load(agentId).getMasks(), weights);
        // Every agent is measured against the consensus; with trimming, the farthest agents' votes are
        // removed (exactly: votes are sums) and the mask is selected again from the others.
        TrimmedVote.Result vote = TrimmedVote.run(votes, selection, spec.trimFraction(), source);
        Map<String, BitMask> masks = new LinkedHashMap<>(vote.trimmedMasks());
        Map<String, Object> sparsity = new LinkedHashMap<>();
        Path roundDir = jobDir.resolve("rounds").resolve(Integer.toString(roundIndex));
        Files.createDirectories(roundDir);
        try (SafetensorsFile original = SafetensorsFile.open(weightsFile)) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (String name : tensorsOfRound(roundIndex)) {
                TensorInfo info = original.info(name);
                entries.add(new SafetensorsWriter.Entry(name, info.dtype(), info.shape()));
            }
            try (SafetensorsWriter writer = SafetensorsWriter.create(roundDir.resolve("pruned.safetensors"), entries, Map.of())) {
                for (String name : tensorsOfRound(roundIndex)) {
                    BitMask mask = masks.get(name);
                    sparsity.put(name, (double) mask.cardinality() / mask.length());
                    float[] pruned = votes.prune(name, original.floats(name), mask, spec.weightScaling());
                    writer.write(name, ByteBuffer.wrap(Tensors.fromFloats(pruned, original.info(name).dtype())));
                }
            }
        }
        ArtifactStore.Artifact maskArtifact = artifacts.put(MaskSets.encode(masks).toByteArray());
        Files.writeString(roundDir.resolve("mask.artifact"), maskArtifact.id());
        if (roundMaskArtifacts.size() == roundIndex) {
            roundMaskArtifacts.add(maskArtifact.id());
        } else {
            roundMaskArtifacts.set(roundIndex, maskArtifact.id());
        }
        votes = null;
        Map<String, Double> agreement = new LinkedHashMap<>();
        for (AgentAgreement a : vote.agreement().agents()) {
            agreement.put(a.agentId(), a.disagreement());
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("agents", agents);
        summary.put("agreement", agreement);
        summary.put("excluded", vote.excluded());
        summary.put("maskArtifact", maskArtifact.id());
        summary.put("sparsity", sparsity);
        return summary;
    }

    /** The global mask decided in a closed round. */
    public Map<String, BitMask> roundMask(int roundIndex) throws IOException {
        MaskSet set = MaskSet.parseFrom(artifacts.read(roundMaskArtifacts.get(roundIndex)));
        return MaskSets.decode(set, weightsOfRound(roundIndex));
    }

    @Override
    public void restoreClosedRounds(int closedRounds) throws IOException {
        roundMaskArtifacts.clear();
        for (int r = 0; r < Math.min(closedRounds, votingRounds()); r++) {
            roundMaskArtifacts.add(Files.readString(jobDir.resolve("rounds").resolve(Integer.toString(r)).resolve("mask.artifact")).trim());
        }
    }

    @Override
    public Map<String, Object> finish(Path resultDir) throws IOException {
        Path modelOut = resultDir.resolve("model");
        Files.createDirectories(modelOut);
        try (var files = Files.list(modelDir)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.endsWith(".safetensors") && !n.equals("model.safetensors.index.json")) {
                    Files.copy(f, modelOut.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        Map<String, SafetensorsFile> roundFiles = new LinkedHashMap<>();
        Map<String, Object> perLayer = new TreeMap<>();
        long pruned = 0;
        long total = 0;
        try (SafetensorsFile original = SafetensorsFile.open(weightsFile)) {
            for (int r = 0; r < votingRounds(); r++) {
                SafetensorsFile f = SafetensorsFile.open(jobDir.resolve("rounds").resolve(Integer.toString(r)).resolve("pruned.safetensors"));
                for (String name : f.tensors().keySet()) {
                    roundFiles.put(name, f);
                }
            }
            try {
                List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                for (TensorInfo info : original.tensors().values()) {
                    entries.add(new SafetensorsWriter.Entry(info.name(), info.dtype(), info.shape()));
                }
                try (SafetensorsWriter writer = SafetensorsWriter.create(modelOut.resolve("model.safetensors"), entries, original.metadata())) {
                    for (TensorInfo info : original.tensors().values()) {
                        SafetensorsFile source = roundFiles.getOrDefault(info.name(), original);
                        writer.write(info.name(), source.bytes(info.name()));
                    }
                }
                Map<String, BitMask> all = new LinkedHashMap<>();
                for (int r = 0; r < votingRounds(); r++) {
                    all.putAll(roundMask(r));
                }
                writeMaskFile(resultDir.resolve("global-mask.safetensors"), all);
                for (Map.Entry<String, BitMask> e : all.entrySet()) {
                    int layer = PrunableTensors.layerIndex(e.getKey()).orElseThrow();
                    long[] acc = (long[]) perLayer.computeIfAbsent("layer " + layer, k -> new long[2]);
                    acc[0] += e.getValue().cardinality();
                    acc[1] += e.getValue().length();
                    pruned += e.getValue().cardinality();
                    total += e.getValue().length();
                }
            } finally {
                for (SafetensorsFile f : new java.util.HashSet<>(roundFiles.values())) {
                    f.close();
                }
            }
        }
        Map<String, Object> report = new LinkedHashMap<>();
        Map<String, Double> layerSparsity = new LinkedHashMap<>();
        perLayer.entrySet().stream()
                .sorted(java.util.Comparator.comparingInt(e -> Integer.parseInt(e.getKey().substring(6))))
                .forEach(e -> {
                    long[] acc = (long[]) e.getValue();
                    layerSparsity.put(e.getKey(), (double) acc[0] / acc[1]);
                });
        report.put("overallSparsity", total == 0 ? 0.0 : (double) pruned / total);
        report.put("layerSparsity", layerSparsity);
        report.put("prunedWeights", pruned);
        report.put("prunableWeights", total);
        return report;
    }

    /**
     * Writes masks as a safetensors file of U8 tensors, one per pruned tensor, holding the bit-packed
     * prune mask (bit i of the row-major index is bit i%8 of byte i/8; 1 = pruned). The metadata
     * records each tensor's shape and the bit order.
     */
    public static void writeMaskFile(Path file, Map<String, BitMask> masks) throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "fedprune-prune-mask");
        metadata.put("bit_order", "bit i of the row-major weight index is bit (i % 8) of byte (i / 8); 1 = pruned");
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, BitMask> e : masks.entrySet()) {
            entries.add(new SafetensorsWriter.Entry(e.getKey(), DType.U8, new long[] {(e.getValue().length() + 7) / 8}));
            metadata.put("weights." + e.getKey(), Long.toString(e.getValue().length()));
        }
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, entries, metadata)) {
            for (Map.Entry<String, BitMask> e : masks.entrySet()) {
                writer.write(e.getKey(), ByteBuffer.wrap(e.getValue().toBytes()));
            }
        }
    }
}
