package dev.fedprune.agent.eval;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.agent.task.QualityEvaluator;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.ModelQuality;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Perplexity of a LLaMA-family model with global masks applied, on samples of the agent's local data.
 * The samples are drawn with a seed derived from the job's (not the calibration draw itself), so the
 * measurement is not taken on exactly the sequences the local pruner calibrated on whenever the agent
 * has more data than it calibrates with.
 */
public final class LlmQualityEvaluator implements QualityEvaluator {
    /** Mixed into the job seed for the evaluation draw. */
    static final long EVALUATION_SEED_SALT = 0x9E3779B97F4A7C15L;

    private final Device device;

    public LlmQualityEvaluator(Device device) {
        this.device = device;
    }

    @Override
    public ModelQuality measure(Path modelDir, Path dataFile, Map<String, BitMask> masks, int samples, int sequenceLength, long seed)
            throws IOException {
        if (samples <= 0) {
            throw new IllegalArgumentException("evaluation needs a positive sample count, got " + samples);
        }
        try (LlamaModel model = LlamaModel.open(modelDir)) {
            LlamaConfig c = model.config();
            int seqLen = sequenceLength <= 0 ? c.maxPositions() : Math.min(sequenceLength, c.maxPositions());
            List<TokenSequence> data = TokenDatasets.sample(TokenDatasets.load(dataFile, c.vocabSize(), seqLen, modelDir),
                    samples, seed ^ EVALUATION_SEED_SALT);
            Perplexity.Result r = Perplexity.evaluate(model, data, device, Perplexity.DEFAULT_ACTIVATION_BYTES, masks, ProgressListener.NONE);
            return ModelQuality.newBuilder().setMetric("perplexity").setValue(r.perplexity()).setSamples(r.samples())
                    .setLowerIsBetter(true).build();
        }
    }
}
