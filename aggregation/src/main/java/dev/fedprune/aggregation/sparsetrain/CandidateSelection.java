package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * ABNS step A7 (algorithms.md 3.3, O-17): collects every agent's loss vector over the candidates and
 * selects {@code argmin_c (1/m) Σ_k L_{k,c}}, an unweighted mean over agents as in the reference code;
 * ties go to the lowest candidate index. Thread-safe.
 */
public final class CandidateSelection {
    private final int candidateCount;
    private final double[] lossSums;
    private final Set<String> agents = new LinkedHashSet<>();

    public CandidateSelection(int candidateCount) {
        if (candidateCount < 1) {
            throw new IllegalArgumentException("candidateCount must be >= 1, got " + candidateCount);
        }
        this.candidateCount = candidateCount;
        this.lossSums = new double[candidateCount];
    }

    /** Folds one agent's mean cross-entropy of every candidate. */
    public synchronized void fold(String agentId, float[] losses) {
        if (losses.length != candidateCount) {
            throw new InvalidContributionException("losses", losses.length + " losses, expected one per candidate (" + candidateCount + ")");
        }
        for (int c = 0; c < losses.length; c++) {
            if (!Float.isFinite(losses[c]) || losses[c] < 0) {
                throw new InvalidContributionException("losses[" + c + "]", "must be finite and >= 0, got " + losses[c]);
            }
        }
        if (agents.contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already sent candidate losses");
        }
        for (int c = 0; c < losses.length; c++) {
            lossSums[c] += losses[c];
        }
        agents.add(agentId);
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    /** {@code L̄_c} per candidate; requires at least one fold. */
    public synchronized double[] meanLosses() {
        if (agents.isEmpty()) {
            throw new IllegalStateException("no agent has sent candidate losses");
        }
        double[] mean = new double[candidateCount];
        for (int c = 0; c < candidateCount; c++) {
            mean[c] = lossSums[c] / agents.size();
        }
        return mean;
    }

    /** The selected candidate {@code c*}. */
    public int selected() {
        return argmin(meanLosses());
    }

    /** The index of the smallest value, the lowest index among equal ones. */
    public static int argmin(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no values to select from");
        }
        int best = 0;
        for (int c = 1; c < values.length; c++) {
            if (values[c] < values[best]) {
                best = c;
            }
        }
        return best;
    }
}
