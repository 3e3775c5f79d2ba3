package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.robust.AgentAgreement;
import dev.fedprune.aggregation.robust.LayeredVote;
import dev.fedprune.aggregation.robust.MaskCheck;
import dev.fedprune.aggregation.robust.NmPatternCheck;
import dev.fedprune.aggregation.robust.SampleCap;
import dev.fedprune.aggregation.robust.SparsityCheck;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.contribution.MaskSetIndex;
import dev.fedprune.coordinator.job.FedPrLlmSpec;
import dev.fedprune.coordinator.method.CertificateIdentity;
import dev.fedprune.coordinator.method.GlobalMaskFile;
import dev.fedprune.coordinator.method.HfModelDirectory;
import dev.fedprune.coordinator.method.PrunedCheckpoint;
import dev.fedprune.coordinator.round.EvaluationRound;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.coordinator.round.MethodReport;
import dev.fedprune.coordinator.round.PhaseEnd;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.ComparisonGroup;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.SparsityPattern;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
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
 * With {@code evaluationSamples > 0} a last {@link EvaluationRound} measures the final model.
 */
public final class FedPrLlmMethod implements JobMethod {
    private final FedPrLlmSpec spec;
    private final long seed;
    private final ModelManifest manifest;
    private final dev.fedprune.proto.v1.ModelManifest wireManifest;
    private final Path modelDir;
    private final Path jobDir;
    private final ArtifactStore artifacts;
    private final VotingRounds rounds;
    private final List<String> roundMaskArtifacts = new ArrayList<>();
    /** The open round's voters, in fold order, with their vote weights; their masks stay on disk. */
    private final Map<String, Long> voters = new LinkedHashMap<>();
    private final EvaluationRound evaluation = new EvaluationRound(header -> {
        // The round engine has already checked the measurement itself.
        if (!header.hasPriorModelQuality()) {
            throw new InvalidContributionException("prior_model_quality", "an evaluation task needs the measured quality, got none");
        }
        return header.getPriorModelQuality();
    });
    private MaskCheck maskCheck;
    /** Secure aggregation: the job's id and quorum, and the open voting round's phases (null in the clear). */
    private String secureJob;
    private int quorum;
    private CertificateIdentity certificates = CertificateIdentity.NONE;
    private SecureVoting secure;

    /**
     * For secure rounds: the job's id, bound into every key, its quorum of masked votes, and the PKI that
     * checks the certificate each agent attaches to its keys before it is passed to the agent's neighbours.
     */
    void secureRounds(String jobId, int jobQuorum, CertificateIdentity agentCertificates) {
        this.secureJob = jobId;
        this.quorum = jobQuorum;
        this.certificates = agentCertificates;
    }

    public FedPrLlmMethod(FedPrLlmSpec spec, long seed, HfModelDirectory.Loaded model, Path modelDir, Path jobDir, ArtifactStore artifacts) {
        this.spec = spec;
        this.seed = seed;
        this.manifest = model.manifest();
        this.wireManifest = model.wire();
        this.modelDir = modelDir;
        this.jobDir = jobDir;
        this.artifacts = artifacts;
        this.rounds = new VotingRounds(spec, manifest);
    }

    @Override
    public ModelManifest manifest() {
        return manifest;
    }

    @Override
    public dev.fedprune.proto.v1.ModelManifest wireManifest() {
        return wireManifest;
    }

    /** Voting rounds, then one evaluation round of the final model when the job asks for evaluation. */
    @Override
    public int totalRounds() {
        return votingRounds() + (spec.evaluationSamples() > 0 ? 1 : 0);
    }

    /** Rounds in which agents vote with masks (one, or one per decoder layer). */
    public int votingRounds() {
        return rounds.count();
    }

    private boolean isEvaluationRound(int roundIndex) {
        return roundIndex >= votingRounds();
    }

    public List<String> tensorsOfRound(int roundIndex) {
        return rounds.tensors(roundIndex);
    }

    @Override
    public Task.Builder taskTemplate(int roundIndex) {
        if (isEvaluationRound(roundIndex)) {
            // The final model: every round's global mask, measured by each agent on its own data.
            return Task.newBuilder().setKind(TaskKind.TASK_KIND_EVALUATION).setPrune(PruneTaskSpec.newBuilder()
                    .setSequenceLength(spec.sequenceLength()).setSeed(seed).setEvaluationSamples(spec.evaluationSamples())
                    .addAllPriorMaskArtifactIds(roundMaskArtifacts.subList(0, votingRounds())));
        }
        PruneTaskSpec.Builder prune = PruneTaskSpec.newBuilder()
                .setMethod(spec.localPruner())
                .setSparsityRatio(spec.sparsityRatio())
                .setPattern(SparsityPattern.newBuilder().setN(spec.nmN()).setM(spec.nmM()))
                .setLocalComparisonGroup(spec.localPerRow() ? ComparisonGroup.COMPARISON_GROUP_ROW : ComparisonGroup.COMPARISON_GROUP_LAYER)
                .setCalibrationSamples(spec.calibrationSamples())
                .setSequenceLength(spec.sequenceLength())
                .setSeed(seed)
                .setEvaluationSamples(spec.evaluationSamples())
                .addAllTensorNames(tensorsOfRound(roundIndex));
        TaskKind kind = TaskKind.TASK_KIND_MASK_VOTE;
        if (spec.strategy() == FedPrLlmSpec.Strategy.ITERATIVE) {
            kind = TaskKind.TASK_KIND_LAYER_MASK_VOTE;
            prune.setLayerIndex(PrunableTensors.layerIndex(tensorsOfRound(roundIndex).get(0)).orElseThrow())
                    .addAllPriorMaskArtifactIds(roundMaskArtifacts.subList(0, roundIndex));
        }
        if (multiPhase(roundIndex) && secure != null) {
            return Task.newBuilder().setKind(secure.kind()).setPrune(prune).setSecureAggregation(secure.taskSpec().setVoteKind(kind));
        }
        return Task.newBuilder().setKind(kind).setPrune(prune);
    }

    /** A voting round of a job with {@code secureAggregation: true} runs in four phases ({@link SecureVoting}). */
    @Override
    public boolean multiPhase(int roundIndex) {
        return spec.secureAggregation() != null && !isEvaluationRound(roundIndex);
    }

    @Override
    public PhaseEnd endPhase(int roundIndex, List<String> folded) {
        return secure.endPhase(folded);
    }

    @Override
    public void openRound(int roundIndex) {
        voters.clear();
        secure = null;
        if (multiPhase(roundIndex)) {
            long weights = weightsOfRound(roundIndex).values().stream().mapToLong(Long::longValue).sum();
            secure = new SecureVoting(spec.secureAggregation(), secureJob, seed, quorum, roundIndex, weights, certificates);
        }
        if (isEvaluationRound(roundIndex)) {
            maskCheck = null;
            evaluation.open();
            return;
        }
        List<MaskCheck> checks = new ArrayList<>();
        checks.add(new SparsityCheck(spec.sparsityRatio(), spec.sparsityTolerance()));
        if (spec.nmM() > 0) {
            Map<String, Long> columns = new LinkedHashMap<>();
            tensorsOfRound(roundIndex).forEach(name -> columns.put(name, rounds.shape(name)[1]));
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
            evaluation.fold(header);
            return;
        }
        if (secure != null) {
            secure.fold(agentId, header);
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
        if (secure != null) {
            // A masked vote: k bits per weight for up to agentsPerRound voters; keys, envelopes and shares grow with the degree.
            long weights = weightsOfRound(roundIndex).values().stream().mapToLong(Long::longValue).sum();
            return bytes + 1024L * (quorum + 64) + (weights * 32 + 7) / 8;
        } else if (!isEvaluationRound(roundIndex)) {
            for (long weights : weightsOfRound(roundIndex).values()) {
                bytes += (weights + 7) / 8 + 256;
            }
        }
        return bytes;
    }

    private Map<String, Long> weightsOfRound(int roundIndex) {
        return rounds.weights(roundIndex);
    }

    @Override
    public RoundSummary closeRound(int roundIndex, StoredContributions stored) throws IOException {
        if (isEvaluationRound(roundIndex)) {
            return RoundSummary.of(evaluation.close(roundIndex).agents(), new VoteSummary.Evaluation(true));
        }
        if (voters.isEmpty() && secure == null) {
            throw new IllegalStateException("round " + roundIndex + " has no folded contributions");
        }
        Path roundDir = jobDir.resolve("rounds").resolve(Integer.toString(roundIndex));
        Files.createDirectories(roundDir);
        Map<String, Double> sparsity;
        LayeredVote.Result vote;
        String maskSha;
        Path maskFile = roundDir.resolve("mask.partial");
        SampleCap.Result cap;
        // Every agent is measured against the consensus; with trimming, the farthest agents' votes are
        // removed and the mask is selected again from the others. One decoder layer in memory at a time.
        try (RoundOutput sink = RoundOutput.open(modelDir, tensorsOfRound(roundIndex), roundDir.resolve("pruned.safetensors"), maskFile,
                spec.weightScaling())) {
            SelectionSpec selection = new SelectionSpec(spec.comparisonGroup(), spec.sparsityRatio(), spec.nmN(), spec.nmM(),
                    spec.tieBreak(), seed);
            if (secure != null) {
                vote = secure.select(rounds.layers(roundIndex), weightsOfRound(roundIndex), selection, sink);
                voters.clear();
                secure.voters().forEach(v -> voters.put(v, 1L));
                cap = SampleCap.apply(voters, 0); // one vote per agent: no self-reported count weighs anything
            } else {
                // Self-reported sample counts are capped before they weigh votes (sampleCap 0: as reported).
                cap = SampleCap.apply(voters, spec.sampleCap());
                try (RoundBallots ballots = RoundBallots.open(voters.keySet(), stored, weightsOfRound(roundIndex))) {
                    vote = LayeredVote.run(rounds.layers(roundIndex), cap.weights(), selection, spec.trimFraction(), ballots::masks, sink);
                }
            }
            maskSha = sink.finishMasks();
            sparsity = sink.sparsity();
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
        secure = null;
        Map<String, Double> agreement = new LinkedHashMap<>();
        for (AgentAgreement a : vote.agreement().agents()) {
            agreement.put(a.agentId(), a.disagreement());
        }
        return RoundSummary.of(agents, new VoteSummary(agreement, List.copyOf(vote.excluded()), maskArtifact.id(), sparsity,
                VoteSummary.defence(spec, cap, vote.excluded())));
    }

    @Override
    public void restoreClosedRounds(int closedRounds) throws IOException {
        roundMaskArtifacts.clear();
        for (int r = 0; r < Math.min(closedRounds, votingRounds()); r++) {
            roundMaskArtifacts.add(Files.readString(jobDir.resolve("rounds").resolve(Integer.toString(r)).resolve("mask.artifact")).trim());
        }
    }

    @Override
    public FedPrLlmReport finish(Path resultDir) throws IOException {
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
        return new FedPrLlmReport(totals[1] == 0 ? 0.0 : (double) totals[0] / totals[1], layerSparsity, totals[0], totals[1]);
    }

    /** The pruned model's sparsity overall and per decoder layer. */
    public record FedPrLlmReport(double overallSparsity, Map<String, Double> layerSparsity, long prunedWeights, long prunableWeights)
            implements MethodReport {
    }
}
