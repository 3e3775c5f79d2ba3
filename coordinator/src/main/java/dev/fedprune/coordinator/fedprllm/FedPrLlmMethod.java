package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Tensors;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.robust.AgentAgreement;
import dev.fedprune.aggregation.robust.LayeredVote;
import dev.fedprune.aggregation.robust.MaskCheck;
import dev.fedprune.aggregation.robust.NmPatternCheck;
import dev.fedprune.aggregation.robust.SparsityCheck;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.contribution.MaskSetIndex;
import dev.fedprune.coordinator.contribution.MaskSetWriter;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.proto.v1.ComparisonGroup;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.SparsityPattern;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * <p>Contributions stay on disk: a fold checks a vote tensor by tensor and records the voter, and
 * closing a round counts, selects and writes one decoder layer at a time ({@link LayeredVote}), so the
 * coordinator's memory is set by the largest layer, not the model. Each closed round writes its pruned
 * (optionally scaled) tensors to {@code rounds/N/pruned.safetensors} and its global mask to the
 * artifact store; the result keeps the original's shard layout and dtypes ({@link PrunedCheckpoint}).
 */
public final class FedPrLlmMethod implements JobMethod {
    private final JobSpec spec;
    private final Path modelDir;
    private final Path jobDir;
    private final ArtifactStore artifacts;
    private final List<List<String>> roundTensors;
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final List<String> roundMaskArtifacts = new ArrayList<>();
    /** The open round's voters, in fold order, with their vote weights; their masks stay on disk. */
    private final Map<String, Long> voters = new LinkedHashMap<>();
    private MaskCheck maskCheck;
    private int evaluated;

    public FedPrLlmMethod(JobSpec spec, ModelManifest manifest, Path modelDir, Path jobDir, ArtifactStore artifacts) {
        this.spec = spec;
        this.modelDir = modelDir;
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
        // Tensors in layer order, so a one-shot round can be aggregated one decoder layer at a time.
        this.roundTensors = spec.strategy() == JobSpec.Strategy.ONE_SHOT
                ? List.of(byLayer.values().stream().flatMap(List::stream).toList())
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
        voters.clear();
        evaluated = 0;
        if (isEvaluationRound(roundIndex)) {
            maskCheck = null;
            return;
        }
        List<MaskCheck> checks = new ArrayList<>();
        checks.add(new SparsityCheck(spec.sparsityRatio(), spec.sparsityTolerance()));
        if (spec.nmM() > 0) {
            Map<String, Long> columns = new LinkedHashMap<>();
            tensorsOfRound(roundIndex).forEach(name -> columns.put(name, shapes.get(name)[1]));
            checks.add(new NmPatternCheck(spec.nmN(), spec.nmM(), columns));
        }
        maskCheck = MaskCheck.all(checks.toArray(MaskCheck[]::new));
    }

    /**
     * Checks every mask of a vote (names, lengths, encodings, sparsity, pattern), one tensor at a time,
     * and records the voter; the votes are counted when the round closes, layer by layer.
     */
    @Override
    public void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException {
        Contribution header = contribution.header();
        if (isEvaluationRound(roundIndex)) {
            // The round engine has already checked the measurement itself.
            if (!header.hasPriorModelQuality()) {
                throw new InvalidContributionException("prior_model_quality", "an evaluation task needs the measured quality, got none");
            }
            evaluated++;
            return;
        }
        if (!contribution.hasMasks()) {
            throw new InvalidContributionException("payload", "a mask-vote task needs a MaskSet payload, got " + header.getPayloadCase());
        }
        long weight = 1;
        if (spec.weightVotesBySamples()) {
            if (header.getSampleCount() <= 0) {
                throw new InvalidContributionException("sample_count", "this job weights votes by calibration samples; got " + header.getSampleCount());
            }
            weight = header.getSampleCount();
        }
        if (voters.containsKey(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        long total = voters.values().stream().mapToLong(Long::longValue).sum();
        if (total + weight > Integer.MAX_VALUE) {
            throw new InvalidContributionException("sample_count", "total vote weight would exceed " + Integer.MAX_VALUE
                    + " (now " + total + ", adding " + weight + ")");
        }
        for (MaskSetIndex.Entry e : contribution.masks().check(weightsOfRound(roundIndex)).values()) {
            maskCheck.check(Map.of(e.tensorName(), contribution.readMask(e)));
        }
        voters.put(agentId, weight);
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
        if (voters.isEmpty()) {
            throw new IllegalStateException("round " + roundIndex + " has no folded contributions");
        }
        Path roundDir = jobDir.resolve("rounds").resolve(Integer.toString(roundIndex));
        Files.createDirectories(roundDir);
        Map<String, Object> sparsity = new LinkedHashMap<>();
        LayeredVote.Result vote;
        String maskSha;
        Path maskFile = roundDir.resolve("mask.partial");
        try (RoundBallots ballots = RoundBallots.open(voters.keySet(), stored, weightsOfRound(roundIndex));
             Checkpoint original = Checkpoint.open(modelDir);
             SafetensorsWriter pruned = SafetensorsWriter.create(roundDir.resolve("pruned.safetensors"), entries(original, roundIndex), Map.of());
             MaskSetWriter mask = MaskSetWriter.create(maskFile)) {
            SelectionSpec selection = new SelectionSpec(spec.comparisonGroup(), spec.sparsityRatio(), spec.nmN(), spec.nmM(),
                    spec.tieBreak(), spec.seed());
            // Every agent is measured against the consensus; with trimming, the farthest agents' votes are
            // removed and the mask is selected again from the others. One decoder layer in memory at a time.
            vote = LayeredVote.run(layersOfRound(roundIndex), voters, selection, spec.trimFraction(), ballots::masks, (votes, selected) -> {
                for (Map.Entry<String, BitMask> e : selected.entrySet()) {
                    String name = e.getKey();
                    sparsity.put(name, (double) e.getValue().cardinality() / e.getValue().length());
                    float[] weights = votes.prune(name, original.readFloats(name), e.getValue(), spec.weightScaling());
                    pruned.write(name, ByteBuffer.wrap(Tensors.fromFloats(weights, original.info(name).dtype())));
                    mask.add(name, e.getValue());
                }
            });
            maskSha = mask.finish();
        }
        ArtifactStore.Artifact maskArtifact = artifacts.adopt(maskFile, maskSha);
        Files.writeString(roundDir.resolve("mask.artifact"), maskArtifact.id());
        if (roundMaskArtifacts.size() == roundIndex) {
            roundMaskArtifacts.add(maskArtifact.id());
        } else {
            roundMaskArtifacts.set(roundIndex, maskArtifact.id());
        }
        int agents = voters.size();
        voters.clear();
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

    private List<SafetensorsWriter.Entry> entries(Checkpoint original, int roundIndex) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (String name : tensorsOfRound(roundIndex)) {
            TensorInfo info = original.info(name);
            entries.add(new SafetensorsWriter.Entry(name, info.dtype(), info.shape()));
        }
        return entries;
    }

    /** The round's tensors grouped by decoder layer, in order. */
    private List<Map<String, long[]>> layersOfRound(int roundIndex) {
        Map<Integer, Map<String, long[]>> byLayer = new LinkedHashMap<>();
        for (String name : tensorsOfRound(roundIndex)) {
            byLayer.computeIfAbsent(PrunableTensors.layerIndex(name).orElseThrow(), k -> new LinkedHashMap<>()).put(name, shapes.get(name));
        }
        return List.copyOf(byLayer.values());
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
        List<Path> roundFiles = new ArrayList<>();
        for (int r = 0; r < votingRounds(); r++) {
            roundFiles.add(jobDir.resolve("rounds").resolve(Integer.toString(r)).resolve("pruned.safetensors"));
        }
        PrunedCheckpoint.write(modelDir, roundFiles, resultDir.resolve("model"));
        Map<String, Long> lengths = new LinkedHashMap<>();
        for (int r = 0; r < votingRounds(); r++) {
            lengths.putAll(weightsOfRound(r));
        }
        Map<Integer, long[]> perLayer = new TreeMap<>();
        long[] totals = new long[2];
        try (RoundMasks masks = RoundMasks.open(artifacts, roundMaskArtifacts.subList(0, votingRounds()), lengths)) {
            GlobalMaskFile.write(resultDir.resolve("global-mask.safetensors"), lengths, name -> {
                BitMask mask = masks.mask(name);
                long[] acc = perLayer.computeIfAbsent(PrunableTensors.layerIndex(name).orElseThrow(), k -> new long[2]);
                acc[0] += mask.cardinality();
                acc[1] += mask.length();
                totals[0] += mask.cardinality();
                totals[1] += mask.length();
                return mask;
            });
        }
        Map<String, Double> layerSparsity = new LinkedHashMap<>();
        perLayer.forEach((layer, acc) -> layerSparsity.put("layer " + layer, (double) acc[0] / acc[1]));
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("overallSparsity", totals[1] == 0 ? 0.0 : (double) totals[0] / totals[1]);
        report.put("layerSparsity", layerSparsity);
        report.put("prunedWeights", totals[0]);
        report.put("prunableWeights", totals[1]);
        return report;
    }
}
