package dev.fedprune.aggregation.sparsetrain.fedmef;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.PruneAndGrow;

/**
 * {@code Θ_low,ℓ}: the weights of one layer that budget-aware extrusion pushes toward 0 in the local
 * training before an adjustment (algorithms.md 4.4 step 3a, O-14). They are the {@code k_ℓ} active
 * weights with the smallest {@code |θ|} of the received global model, ties to the lower index, which
 * are exactly the weights the server's {@link PruneAndGrow} step will prune.
 *
 * @param layerSize number of weights of the layer
 * @param indices   marked flat indices, strictly ascending
 */
public record MarkedWeights(int layerSize, int[] indices) {

    public MarkedWeights {
        if (layerSize < 0) {
            throw new IllegalArgumentException("layerSize must be >= 0, got " + layerSize);
        }
        indices = indices.clone();
        for (int j = 0; j < indices.length; j++) {
            int i = indices[j];
            if (i < 0 || i >= layerSize) {
                throw new IllegalArgumentException("indices[" + j + "] = " + i + " must lie in [0, " + layerSize + ")");
            }
            if (j > 0 && i <= indices[j - 1]) {
                throw new IllegalArgumentException("indices must be strictly ascending, indices[" + j + "] = " + i
                        + " follows " + indices[j - 1]);
            }
        }
    }

    /**
     * Marks the {@code k} active weights with the smallest {@code |θ|}.
     *
     * @throws IllegalArgumentException if {@code k} is outside {@code [0, active count]}, the mask and the
     *                                  layer differ in length, or an active weight is not finite
     */
    public static MarkedWeights mark(float[] globalWeights, BitMask keep, int k) {
        return new MarkedWeights(globalWeights.length, PruneAndGrow.smallestActive(globalWeights, keep, k));
    }

    /**
     * Marks the weights that the adjustment in round {@code adjustmentRound} will prune:
     * {@code k_ℓ = ⌊f_decay(t)·|active_ℓ|⌋}, capped by the inactive count as the server caps it
     * ({@link AdjustmentSchedule#adjustCount}).
     *
     * @throws IllegalArgumentException if {@code adjustmentRound} is not an adjustment round of the schedule
     */
    public static MarkedWeights mark(float[] globalWeights, BitMask keep, AdjustmentSchedule schedule, int adjustmentRound) {
        if (!schedule.isAdjustment(adjustmentRound)) {
            throw new IllegalArgumentException("adjustmentRound " + adjustmentRound + " is not an adjustment round of " + schedule);
        }
        if (keep.length() != globalWeights.length) {
            throw new IllegalArgumentException("keep-mask of " + keep.length() + " bits for a layer of " + globalWeights.length + " weights");
        }
        int active = (int) keep.cardinality();
        int k = schedule.adjustCount(adjustmentRound, active, globalWeights.length - active);
        return mark(globalWeights, keep, k);
    }

    @Override
    public int[] indices() {
        return indices.clone();
    }

    public int count() {
        return indices.length;
    }

    /** {@code ‖Θ_low,ℓ‖₂²} of the current weights, summed in double. */
    public double squaredNorm(float[] weights) {
        checkLength("weights", weights);
        double sum = 0;
        for (int i : indices) {
            sum += (double) weights[i] * weights[i];
        }
        return sum;
    }

    void checkLength(String name, float[] values) {
        if (values.length != layerSize) {
            throw new IllegalArgumentException(name + " has " + values.length + " values, the marked layer " + layerSize);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MarkedWeights m && m.layerSize == layerSize && java.util.Arrays.equals(m.indices, indices);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(indices) * 31 + layerSize;
    }

    @Override
    public String toString() {
        return "MarkedWeights[" + indices.length + " of " + layerSize + "]";
    }
}
