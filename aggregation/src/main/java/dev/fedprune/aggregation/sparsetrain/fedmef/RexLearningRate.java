package dev.fedprune.aggregation.sparsetrain.fedmef;

/**
 * BaE's budget-aware learning rate (algorithms.md 4.4 step 3c, O-14): over a budget of
 * {@code B_bud = E·⌈n_k/B⌉} local steps the REX profile {@code p(b) = (2B_bud − 2b)/(2B_bud − b)}
 * falls from 1 to 0, {@code β_b = p(b)·(2σ(‖Θ_low‖₂) − 1)·η0} and the step uses
 * {@code μ_b = max(η_b, β_b)}. {@code 2σ(z) − 1} is computed as {@code tanh(z/2)}, the same value
 * without the cancellation near {@code z = 0}.
 *
 * @param budgetSteps      {@code B_bud}, at least 1
 * @param baseLearningRate {@code η0}, finite and {@code > 0}
 */
public record RexLearningRate(int budgetSteps, double baseLearningRate) {

    public RexLearningRate {
        if (budgetSteps < 1) {
            throw new IllegalArgumentException("budgetSteps must be >= 1, got " + budgetSteps);
        }
        if (!(baseLearningRate > 0) || Double.isInfinite(baseLearningRate)) {
            throw new IllegalArgumentException("baseLearningRate must be finite and > 0, got " + baseLearningRate);
        }
    }

    /** {@code B_bud = E·⌈n_k/B⌉}: the local steps of one round of {@code epochs} over {@code sampleCount} samples. */
    public static int budgetSteps(int epochs, long sampleCount, int batchSize) {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        }
        if (sampleCount < 1) {
            throw new IllegalArgumentException("sampleCount must be >= 1, got " + sampleCount);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        long stepsPerEpoch = (sampleCount + batchSize - 1) / batchSize;
        long steps = Math.multiplyExact(epochs, stepsPerEpoch);
        if (steps > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("budget of " + steps + " steps exceeds " + Integer.MAX_VALUE
                    + " (epochs " + epochs + ", sampleCount " + sampleCount + ", batchSize " + batchSize + ")");
        }
        return (int) steps;
    }

    /** {@code p(b)}: 1 at {@code b = 0}, 2/3 at {@code B_bud/2}, 0 at {@code B_bud}. */
    public double profile(int step) {
        checkStep(step);
        double budget = budgetSteps;
        return (2 * budget - 2.0 * step) / (2 * budget - step);
    }

    /** {@code β_b = p(b)·(2σ(‖Θ_low‖₂) − 1)·η0}; 0 when the marked weights are all 0. */
    public double beta(int step, double markedNorm) {
        if (!(markedNorm >= 0) || Double.isInfinite(markedNorm)) {
            throw new IllegalArgumentException("markedNorm must be finite and >= 0, got " + markedNorm);
        }
        return profile(step) * Math.tanh(markedNorm / 2) * baseLearningRate;
    }

    /** {@code μ_b = max(η_b, β_b)} for the scheduled rate {@code η_b} of step {@code b}. */
    public double stepRate(int step, double scheduledRate, double markedNorm) {
        if (!(scheduledRate >= 0) || Double.isInfinite(scheduledRate)) {
            throw new IllegalArgumentException("scheduledRate must be finite and >= 0, got " + scheduledRate);
        }
        return Math.max(scheduledRate, beta(step, markedNorm));
    }

    private void checkStep(int step) {
        if (step < 0 || step > budgetSteps) {
            throw new IllegalArgumentException("step must lie in [0, budgetSteps " + budgetSteps + "], got " + step);
        }
    }
}
