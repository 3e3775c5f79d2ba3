package dev.fedprune.agent.iterative;

import java.nio.file.Path;

/**
 * Where one iterative job keeps its calibration states on this agent, and the identity they are kept
 * under. Given by the agent loop to the mask engine with each round's request.
 *
 * @param directory the job's own directory in the agent's work directory
 * @param modelId   the job's model id (the manifest's digest over its tensors)
 */
public record JobStates(Path directory, String jobId, String modelId) {
}
