package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.aggregation.sparsetrain.BnStatisticsAccumulator;
import dev.fedprune.aggregation.sparsetrain.Candidate;
import dev.fedprune.aggregation.sparsetrain.CandidatePool;
import dev.fedprune.aggregation.sparsetrain.CandidateSelection;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.SparseTrainingSpec;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.AbnsStep;
import dev.fedprune.proto.v1.CandidateBnStatistics;
import dev.fedprune.proto.v1.CandidateModel;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import dev.fedprune.wire.BnStatisticsWire;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * FedTiny's adaptive BatchNorm selection (ABNS, algorithms.md 3.3, O-17): a pool of candidate masks of the
 * initial model; in a first round agents send each candidate's BatchNorm statistics on their data, which
 * are pooled; in a second round they send each candidate's loss under the pooled statistics, and the
 * candidate with the lowest mean loss becomes the initial global model.
 */
final class AbnsPhase {
    /** Dirichlet concentration of the perturbed-ERK candidates beyond ERK, uniform and ER ([U], algorithms.md 3.3 A1). */
    static final double CANDIDATE_CONCENTRATION = 1.0;

    private final SparseTrainingSpec spec;
    private final CnnLayout layout;
    private final ArtifactStore artifacts;
    private final GlobalModel model;
    private final List<Candidate> candidates;
    private final List<CandidateModel> candidateModels = new ArrayList<>();
    private List<Map<String, BnStatistics>> candidateStatistics;
    private String candidateStatisticsArtifact;
    private Integer selectedCandidate;

    // The open round.
    private List<BnStatisticsAccumulator> bnSums;
    private Set<String> bnAgents;
    private CandidateSelection selection;

    /** Generates the candidate pool from the initial weights and publishes each candidate. */
    AbnsPhase(SparseTrainingSpec spec, long seed, CnnLayout layout, GlobalModel model, ArtifactStore artifacts) throws IOException {
        this.spec = spec;
        this.layout = layout;
        this.artifacts = artifacts;
        this.model = model;
        this.candidates = CandidatePool.generate(layout.sparseLayers(), model.initialWeights(), spec.density(),
                CandidatePool.defaultAllocations(spec.candidates(), CANDIDATE_CONCENTRATION, seed));
        for (Candidate c : candidates) {
            Map<String, BitMask> masks = model.byName(c.keepMasks());
            candidateModels.add(CandidateModel.newBuilder()
                    .setWeightsArtifactId(model.publishWeights(masks, model.masked(masks), layout.initialDenseState()))
                    .setMaskArtifactId(model.publishMask(masks)).build());
        }
    }

    /** The round's task: step 0 (BatchNorm statistics) or 1 (losses under the pooled statistics). */
    void taskTemplate(int step, TrainingTaskSpec.Builder training) {
        training.addAllCandidates(candidateModels);
        if (step == 0) {
            training.setAbnsStep(AbnsStep.ABNS_STEP_BN_STATISTICS);
        } else {
            training.setAbnsStep(AbnsStep.ABNS_STEP_CANDIDATE_LOSSES)
                    .setCandidateStatisticsArtifactId(candidateStatisticsArtifact == null ? "" : candidateStatisticsArtifact);
        }
    }

    void open(int step) {
        bnSums = null;
        selection = null;
        if (step == 0) {
            bnSums = new ArrayList<>();
            for (int c = 0; c < candidates.size(); c++) {
                bnSums.add(new BnStatisticsAccumulator(layout.batchNormChannels(), spec.bnPooling()));
            }
            bnAgents = new LinkedHashSet<>();
        } else {
            selection = new CandidateSelection(candidates.size());
        }
    }

    void fold(int step, String agentId, Contribution contribution) {
        if (step == 0) {
            foldBnStatistics(agentId, contribution);
            return;
        }
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
            decoded.add(BnStatisticsWire.decode("candidate_bn_statistics.candidates[" + c + "]", all.getCandidates(c), layout.batchNormChannels()));
        }
        // Everything is checked: the folds below cannot fail half-way.
        for (int c = 0; c < candidates.size(); c++) {
            bnSums.get(c).fold(agentId, contribution.getSampleCount(), decoded.get(c));
        }
        bnAgents.add(agentId);
    }

    /** Pools the statistics (step 0), or selects the candidate and installs it as the global model (step 1). */
    RoundSummary close(int step) throws IOException {
        RoundSummary summary;
        if (step == 0) {
            candidateStatistics = new ArrayList<>();
            CandidateBnStatistics.Builder wire = CandidateBnStatistics.newBuilder();
            for (BnStatisticsAccumulator acc : bnSums) {
                Map<String, BnStatistics> s = acc.aggregate();
                candidateStatistics.add(s);
                wire.addCandidates(BnStatisticsWire.encode(s));
            }
            candidateStatisticsArtifact = artifacts.put(wire.build().toByteArray()).id();
            summary = RoundSummary.of(bnAgents.size(), new StatisticsSummary("bn_statistics",
                    candidates.stream().map(c -> c.allocation().label()).toList()));
        } else {
            double[] mean = selection.meanLosses();
            int best = CandidateSelection.argmin(mean);
            selectedCandidate = best;
            Candidate c = candidates.get(best);
            Map<String, BitMask> masks = model.byName(c.keepMasks());
            Map<String, float[]> state = layout.initialDenseState();
            candidateStatistics.get(best).forEach((bn, s) -> {
                state.put(bn + ".runningMean", s.mean());
                state.put(bn + ".runningVar", s.variance());
            });
            model.install(masks, model.masked(masks), state);
            summary = RoundSummary.of(selection.agentCount(), new SelectionSummary("candidate_losses", mean, best, c.allocation().label()));
        }
        bnSums = null;
        selection = null;
        return summary;
    }

    String candidateStatisticsArtifact() {
        return candidateStatisticsArtifact;
    }

    Integer selectedCandidate() {
        return selectedCandidate;
    }

    String selectedAllocation() {
        return selectedCandidate == null ? null : candidates.get(selectedCandidate).allocation().label();
    }

    /** Reloads the pooled statistics and the selection of closed ABNS rounds, after a restart. */
    void restore(String statisticsArtifact, Integer selected) throws IOException {
        selectedCandidate = selected;
        if (statisticsArtifact == null) {
            return;
        }
        candidateStatisticsArtifact = statisticsArtifact;
        CandidateBnStatistics all = CandidateBnStatistics.parseFrom(artifacts.read(candidateStatisticsArtifact));
        candidateStatistics = new ArrayList<>();
        for (int c = 0; c < all.getCandidatesCount(); c++) {
            candidateStatistics.add(BnStatisticsWire.decode("candidates[" + c + "]", all.getCandidates(c), layout.batchNormChannels()));
        }
    }

    /** The statistics round: the candidates by allocation. */
    record StatisticsSummary(String phase, List<String> candidates) implements RoundSummary.Detail {
    }

    /** The loss round: every candidate's mean loss and the one selected. */
    record SelectionSummary(String phase, double[] meanLosses, int selectedCandidate, String selectedAllocation) implements RoundSummary.Detail {
    }
}
