package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import java.util.Locale;
import java.util.Map;

/**
 * Rejects a contribution whose mask sparsity, per tensor, is further from the job's target than a
 * tolerance: a guard against agents that prune far too much or too little (buggy or adversarial).
 * For an N:M job the target is N/M.
 *
 * @param targetSparsity expected fraction of set (pruned) bits, in [0, 1]
 * @param tolerance      largest accepted absolute deviation, in [0, 1]
 */
public record SparsityCheck(double targetSparsity, double tolerance) implements MaskCheck {

    public SparsityCheck {
        if (!(targetSparsity >= 0 && targetSparsity <= 1)) {
            throw new IllegalArgumentException("targetSparsity must be in [0, 1], got " + targetSparsity);
        }
        if (!(tolerance >= 0 && tolerance <= 1)) {
            throw new IllegalArgumentException("tolerance must be in [0, 1], got " + tolerance);
        }
    }

    /** Throws for the first tensor (in map order) whose sparsity is out of bounds. */
    @Override
    public void check(Map<String, BitMask> masks) {
        masks.forEach(this::check);
    }

    public void check(String tensor, BitMask mask) {
        if (mask.length() == 0) {
            return;
        }
        double measured = (double) mask.cardinality() / mask.length();
        if (Math.abs(measured - targetSparsity) > tolerance) {
            throw new InvalidContributionException("masks[" + tensor + "]", String.format(Locale.ROOT,
                    "sparsity %.6f (%d of %d pruned) deviates from the target %.6f by more than the tolerance %.6f",
                    measured, mask.cardinality(), mask.length(), targetSparsity, tolerance));
        }
    }
}
