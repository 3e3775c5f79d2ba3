package dev.fedprune.agent.train;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.proto.v1.AbnsStep;
import dev.fedprune.proto.v1.CandidateBnStatistics;
import dev.fedprune.proto.v1.CandidateLosses;
import dev.fedprune.proto.v1.CandidateModel;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import dev.fedprune.wire.BnStatisticsWire;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * FedTiny's adaptive batch-norm selection (algorithms.md 3.3), two round trips before training: first the
 * BatchNorm statistics of every coarse-pruned candidate recalibrated on the agent's images, then, with the
 * statistics the coordinator aggregated installed, the loss of every candidate on those images.
 */
public final class BnCandidateScoresHandler implements TaskHandler {

    @Override
    public Set<TaskKind> kinds() {
        return Set.of(TaskKind.TASK_KIND_BN_CANDIDATE_SCORES);
    }

    @Override
    public Task.SpecCase spec() {
        return Task.SpecCase.TRAINING;
    }

    @Override
    public Contribution handle(Task task, TaskContext context) throws IOException {
        TrainingTaskSpec spec = task.getTraining();
        return CnnTasks.run(task, context, (held, images, out) -> {
            List<byte[][]> candidates = new ArrayList<>();
            for (CandidateModel c : spec.getCandidatesList()) {
                candidates.add(new byte[][] {context.artifact(c.getWeightsArtifactId()), context.artifact(c.getMaskArtifactId())});
            }
            CandidateBnStatistics aggregated = spec.getAbnsStep() == AbnsStep.ABNS_STEP_CANDIDATE_LOSSES
                    ? CandidateBnStatistics.parseFrom(context.artifact(spec.getCandidateStatisticsArtifactId())) : null;
            held.withModel(task, cnn -> {
                if (spec.getAbnsStep() == AbnsStep.ABNS_STEP_BN_STATISTICS) {
                    CandidateBnStatistics.Builder all = CandidateBnStatistics.newBuilder();
                    for (byte[][] c : candidates) {
                        held.install(cnn, c[0], c[1]);
                        cnn.recalibrateBatchNorm(CnnEvaluation.batches(images.train(), spec.getBatchSize()));
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
                        held.install(cnn, candidates.get(c)[0], candidates.get(c)[1]);
                        cnn.setBatchNormStatistics(BnStatisticsWire.decode("bn_statistics.candidates[" + c + "]", aggregated.getCandidates(c),
                                cnn.batchNormChannels()));
                        losses.addLosses((float) CnnEvaluation.evaluate(cnn, images.train(), images.train().size(), spec.getBatchSize())[0]);
                    }
                    out.setCandidateLosses(losses).setSampleCount(images.train().size());
                } else {
                    throw new IllegalArgumentException("abns_step: " + spec.getAbnsStep() + " is not a step of adaptive BN selection");
                }
            });
        });
    }
}
