package dev.fedprune.agent.task;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.ModelQuality;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Measures the quality of a global model (a model directory with prune masks applied) on this agent's own data. */
public interface QualityEvaluator {

    /**
     * @param masks          global prune masks to apply (1 = pruned); empty for the unpruned model
     * @param samples        how many local samples to evaluate, drawn by {@code seed}
     * @param sequenceLength 0 = the model's maximum
     */
    ModelQuality measure(Path modelDir, Path dataFile, Map<String, BitMask> masks, int samples, int sequenceLength, long seed)
            throws IOException;
}
