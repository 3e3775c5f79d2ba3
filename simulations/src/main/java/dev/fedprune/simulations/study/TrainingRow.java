package dev.fedprune.simulations.study;

import java.util.List;
import java.util.Map;

/**
 * One run of a sparse training study and what was measured.
 *
 * @param accuracy           final accuracy of the global model on the whole test set (the evaluation round), a fraction
 * @param accuracyPerRound   entry {@code t}: accuracy on the whole test set of the global model after {@code t} training
 *                           rounds (entry 0: the model before training, after ABNS where the method has it; the last
 *                           entry equals {@code accuracy})
 * @param actualDensity      fraction of sparse-layer weights the final mask keeps
 * @param bytesUpPerAgent    payload bytes an agent uploaded over the whole job, mean over agents
 * @param bytesDownPerAgent  artifact bytes an agent downloaded over the whole job, mean over agents
 * @param agentPeakBytes     peak resident memory (VmHWM) of a fresh JVM running one agent's training round of this
 *                           run (see {@link AgentMemoryProbe}); -1 when not measured
 * @param agentMemory        the probe's other figures and the largest top-K buffer an agent reported
 * @param wallSeconds        wall time of the whole job (ABNS, training, evaluation) with all agents in one JVM
 * @param agentSecondsPerRound mean seconds of one agent's training task as its worker reports them ({@code compute_seconds});
 *                           in-process agents take turns on one engine lock, so this includes waiting for the others
 */
public record TrainingRow(String method, double density, int agents, int rounds, long seed, String state, String failureReason,
                         double accuracy, List<Double> accuracyPerRound, double actualDensity, String selectedAllocation,
                         double bytesUpPerAgent, double bytesDownPerAgent, long agentPeakBytes, Map<String, Long> agentMemory,
                         double wallSeconds, double agentSecondsPerRound) {
}
