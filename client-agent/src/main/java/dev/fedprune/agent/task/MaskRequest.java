package dev.fedprune.agent.task;

import dev.fedprune.agent.iterative.JobStates;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.PruneMethod;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything a local pruner needs to compute prune masks on this agent.
 *
 * @param modelDir            Hugging Face model directory (config.json + safetensors)
 * @param calibrationFile     token-id JSONL (or text) file with the agent's private calibration data
 * @param perRow              compare within each output row (true) or the whole matrix (false)
 * @param nmN                 N of an N:M pattern (prune N of every M), 0 for unstructured
 * @param calibrationSamples  0 = every sample in the file
 * @param sequenceLength      0 = the model's max_position_embeddings
 * @param tensorNames         the tensors to mask; empty = every prunable tensor
 * @param layerIndex          iterative mode: the one decoder layer to mask, -1 for all layers
 * @param priorMasks          iterative mode: global masks of earlier layers, applied before this layer
 * @param keptStates          iterative mode: where the job keeps calibration states between rounds; null: nowhere
 */
public record MaskRequest(Path modelDir, Path calibrationFile, PruneMethod method, double sparsityRatio,
                          boolean perRow, int nmN, int nmM, int calibrationSamples, int sequenceLength, long seed,
                          List<String> tensorNames, int layerIndex, Map<String, BitMask> priorMasks, JobStates keptStates) {
    public MaskRequest {
        tensorNames = List.copyOf(tensorNames);
        priorMasks = Map.copyOf(priorMasks);
    }

    /** A request that keeps no calibration states between rounds (the CLI, simulations, one-shot jobs). */
    public MaskRequest(Path modelDir, Path calibrationFile, PruneMethod method, double sparsityRatio,
                       boolean perRow, int nmN, int nmM, int calibrationSamples, int sequenceLength, long seed,
                       List<String> tensorNames, int layerIndex, Map<String, BitMask> priorMasks) {
        this(modelDir, calibrationFile, method, sparsityRatio, perRow, nmN, nmM, calibrationSamples, sequenceLength, seed,
                tensorNames, layerIndex, priorMasks, null);
    }
}
