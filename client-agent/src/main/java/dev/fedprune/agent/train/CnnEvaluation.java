package dev.fedprune.agent.train;

import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.util.ArrayList;
import java.util.List;

/** Measures a CNN on local images in inference mode: the accuracy of the global model that every training and evaluation task reports. */
final class CnnEvaluation {
    private CnnEvaluation() {
    }

    /**
     * Measures the global model the task starts from on the agent's held-out images ({@code evaluation_images},
     * 0 = all), sets it as the contribution's prior model quality and records {@code prior_accuracy} and
     * {@code prior_loss}. Returns how many images were evaluated.
     */
    static int measurePrior(MaskedCnn cnn, LabeledImages heldOut, TrainingTaskSpec spec, Contribution.Builder out, TaskContext context) {
        int evaluated = spec.getEvaluationImages() == 0 ? heldOut.size() : Math.min(spec.getEvaluationImages(), heldOut.size());
        double[] prior = evaluate(cnn, heldOut, evaluated, spec.getBatchSize());
        out.setPriorModelQuality(ModelQuality.newBuilder().setMetric("accuracy").setValue(prior[1]).setSamples(evaluated).setLowerIsBetter(false));
        context.metric("prior_accuracy", prior[1]);
        context.metric("prior_loss", prior[0]);
        return evaluated;
    }

    /** Mean cross-entropy and accuracy over the first {@code count} images, in inference mode. */
    static double[] evaluate(MaskedCnn cnn, LabeledImages images, int count, int batchSize) {
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

    /** All images in order, in batches of {@code batchSize}. */
    static List<MaskedCnn.LabeledBatch> batches(LabeledImages images, int batchSize) {
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
}
