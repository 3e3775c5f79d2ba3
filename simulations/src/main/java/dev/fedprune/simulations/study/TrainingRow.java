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
 * @param activationPeakBytes  per agent, the largest {@code activation_peak_bytes} of its training tasks: bytes of
 *                           activations held for backward during a task's steps (empty when no agent reported it)
 * @param activationDenseBytes per agent, the largest {@code activation_dense_bytes}: the dense activation cache of the same
 *                           model and batch, for comparison (empty when not reported)
 * @param activationBytesMeasured true when every reported activation figure was measured from held buffers, false when any
 *                           was an estimate from layer shapes ({@code activation_bytes_measured} 0); null when none was reported
 * @param adjustments        per adjustment round in which agents reported them, the mean over agents of the held-out accuracy
 *                           of their locally trained model before and after zeroing the weights the server prunes
 * @param defence            the run's robust aggregation by its name in the scenario ({@code none}: plain FedAvg)
 * @param poisoning          the run's malicious agents ({@link dev.fedprune.simulations.poisoning.Poisoning#label()}, {@code none})
 */
public record TrainingRow(String method, double density, int agents, int rounds, long seed, String state, String failureReason,
                         double accuracy, List<Double> accuracyPerRound, double actualDensity, String selectedAllocation,
                         double bytesUpPerAgent, double bytesDownPerAgent, long agentPeakBytes, Map<String, Long> agentMemory,
                         double wallSeconds, double agentSecondsPerRound, Map<String, Long> activationPeakBytes,
                         Map<String, Long> activationDenseBytes, Boolean activationBytesMeasured, List<Adjustment> adjustments,
                          String defence, String poisoning) {

    public TrainingRow {
        defence = defence == null ? "none" : defence;
        poisoning = poisoning == null ? "none" : poisoning;
        // By agent name, so that results.json is written the same way every time.
        activationPeakBytes = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(activationPeakBytes));
        activationDenseBytes = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(activationDenseBytes));
        adjustments = List.copyOf(adjustments);
    }

    /** A run without defence or malicious agents. */
    public TrainingRow(String method, double density, int agents, int rounds, long seed, String state, String failureReason,
                       double accuracy, List<Double> accuracyPerRound, double actualDensity, String selectedAllocation,
                       double bytesUpPerAgent, double bytesDownPerAgent, long agentPeakBytes, Map<String, Long> agentMemory,
                       double wallSeconds, double agentSecondsPerRound, Map<String, Long> activationPeakBytes,
                       Map<String, Long> activationDenseBytes, Boolean activationBytesMeasured, List<Adjustment> adjustments) {
        this(method, density, agents, rounds, seed, state, failureReason, accuracy, accuracyPerRound, actualDensity, selectedAllocation,
                bytesUpPerAgent, bytesDownPerAgent, agentPeakBytes, agentMemory, wallSeconds, agentSecondsPerRound, activationPeakBytes,
                activationDenseBytes, activationBytesMeasured, adjustments, "none", "none");
    }

    /** A run without activation or pruning-accuracy figures (methods and agents that do not report them). */
    public TrainingRow(String method, double density, int agents, int rounds, long seed, String state, String failureReason,
                       double accuracy, List<Double> accuracyPerRound, double actualDensity, String selectedAllocation,
                       double bytesUpPerAgent, double bytesDownPerAgent, long agentPeakBytes, Map<String, Long> agentMemory,
                       double wallSeconds, double agentSecondsPerRound) {
        this(method, density, agents, rounds, seed, state, failureReason, accuracy, accuracyPerRound, actualDensity, selectedAllocation,
                bytesUpPerAgent, bytesDownPerAgent, agentPeakBytes, agentMemory, wallSeconds, agentSecondsPerRound, Map.of(), Map.of(), null,
                List.of());
    }

    /**
     * The agents' accuracy of their locally trained model in one adjustment round, before and after the
     * prune the server then applies; each a mean over the agents that reported it, NaN when none did.
     *
     * @param round training round {@code t}
     */
    public record Adjustment(int round, double accuracyBeforePrune, double accuracyAfterPrune) {
    }

    /** The largest activation peak of any agent; -1 when none was reported. */
    public long maxActivationPeakBytes() {
        return activationPeakBytes.values().stream().mapToLong(Long::longValue).max().orElse(-1);
    }

    /** The largest dense activation cache of any agent; -1 when none was reported. */
    public long maxActivationDenseBytes() {
        return activationDenseBytes.values().stream().mapToLong(Long::longValue).max().orElse(-1);
    }
}
