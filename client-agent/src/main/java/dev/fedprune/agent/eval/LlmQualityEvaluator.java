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
    private final Path heldOutData;

    /** Evaluates on the data file each task names (the agent's calibration data). */
    public LlmQualityEvaluator(Device device) {
        this(device, null);
    }

    /** Evaluates on {@code heldOutData} when it is not null: the agent's own held-out documents. */
    public LlmQualityEvaluator(Device device, Path heldOutData) {
        this.device = device;
        this.heldOutData = heldOutData;
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
            Path file = heldOutData != null ? heldOutData : dataFile;
            List<TokenSequence> data = TokenDatasets.sample(TokenDatasets.load(file, c.vocabSize(), seqLen, modelDir),
                    samples, seed ^ EVALUATION_SEED_SALT);
            Perplexity.Result r = Perplexity.evaluate(model, data, device, Perplexity.DEFAULT_ACTIVATION_BYTES, masks, ProgressListener.NONE);
            return ModelQuality.newBuilder().setMetric("perplexity").setValue(r.perplexity()).setSamples(r.samples())
                    .setLowerIsBetter(true).build();
        }
    }
}
