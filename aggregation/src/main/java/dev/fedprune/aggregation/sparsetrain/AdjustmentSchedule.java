package dev.fedprune.aggregation.sparsetrain;

/**
 * When FedTiny adjusts the mask, how much and which block (algorithms.md 0.4 and 3.4, O-11): the
 * cosine decay {@code f_decay(t) = (α/2)(1 + cos(π t / T_end))}, the distributed state machine
 * (adjustment rounds {@code t > 0, t mod ΔT = 0, t ≤ T_end}; mask-sync the round after) and the block
 * schedule over {@code blockCount} blocks. Blocks are numbered 0 (input side) to {@code blockCount − 1}
 * (output side). With {@code blockCount = 1} every adjustment covers all sparse layers, as the
 * reference library does.
 *
 * @param alpha      initial adjustment fraction, in (0, 1]
 * @param deltaT     rounds between adjustments, at least 1
 * @param tEnd       last round that may adjust, at least 1
 * @param blockCount number of blocks {@code J}, at least 1
 * @param order      which block the first adjustment visits
 */
public record AdjustmentSchedule(double alpha, int deltaT, int tEnd, int blockCount, BlockOrder order) {

    public AdjustmentSchedule {
        if (!(alpha > 0) || alpha > 1) {
            throw new IllegalArgumentException("alpha must be in (0, 1], got " + alpha);
        }
        if (deltaT < 1) {
            throw new IllegalArgumentException("deltaT must be >= 1, got " + deltaT);
        }
        if (tEnd < 1) {
            throw new IllegalArgumentException("tEnd must be >= 1, got " + tEnd);
        }
        if (blockCount < 1) {
            throw new IllegalArgumentException("blockCount must be >= 1, got " + blockCount);
        }
        if (order == null) {
            throw new IllegalArgumentException("order must be given");
        }
    }

    /** The reference library's defaults: α = 0.2, ΔT = 10, T_end = 100, one block. */
    public static AdjustmentSchedule referenceDefaults() {
        return new AdjustmentSchedule(0.2, 10, 100, 1, BlockOrder.OUTPUT_TO_INPUT);
    }

    /** {@code f_decay(t)}; 0 for {@code t ≥ T_end}. */
    public double decay(int round) {
        checkRound(round);
        if (round >= tEnd) {
            return 0;
        }
        return alpha / 2 * (1 + Math.cos(Math.PI * round / tEnd));
    }

    public boolean isAdjustment(int round) {
        checkRound(round);
        return round > 0 && round % deltaT == 0 && round <= tEnd;
    }

    /** True in the round right after an adjustment, when the server must send the new keep-mask. */
    public boolean isMaskSync(int round) {
        checkRound(round);
        return round > 0 && isAdjustment(round - 1);
    }

    /**
     * The round's mode. With {@code ΔT = 1} a round can be both an adjustment and the mask-sync of the
     * previous one: it is reported as {@link RoundMode#ADJUSTMENT} and {@link #sendsMask} says the mask
     * goes out too.
     */
    public RoundMode mode(int round) {
        if (isAdjustment(round)) {
            return RoundMode.ADJUSTMENT;
        }
        return isMaskSync(round) ? RoundMode.MASK_SYNC : RoundMode.NORMAL;
    }

    /** Whether the server sends the keep-mask this round: round 0 (the initial mask) and every mask-sync round. */
    public boolean sendsMask(int round) {
        return round == 0 || isMaskSync(round);
    }

    /** {@code a = t / ΔT} for an adjustment round (1, 2, …). */
    public int adjustmentNumber(int round) {
        if (!isAdjustment(round)) {
            throw new IllegalArgumentException("round " + round + " is not an adjustment round");
        }
        return round / deltaT;
    }

    /**
     * The block adjusted in an adjustment round: with OUTPUT_TO_INPUT adjustment {@code a} visits block
     * {@code J − 1 − ((a − 1) mod J)} (0-based), with INPUT_TO_OUTPUT block {@code (a − 1) mod J}.
     */
    public int block(int round) {
        int a = adjustmentNumber(round);
        int step = (a - 1) % blockCount;
        return order == BlockOrder.OUTPUT_TO_INPUT ? blockCount - 1 - step : step;
    }

    /**
     * {@code k_ℓ = min(⌊f_decay(t)·|active_ℓ|⌋, |inactive_ℓ|)}: how many weights of a layer are pruned
     * and regrown in an adjustment round (0 in other rounds).
     */
    public int adjustCount(int round, int activeCount, int inactiveCount) {
        if (activeCount < 0 || inactiveCount < 0) {
            throw new IllegalArgumentException("active and inactive counts must be >= 0, got " + activeCount + " and " + inactiveCount);
        }
        if (!isAdjustment(round)) {
            return 0;
        }
        return Math.min((int) (decay(round) * activeCount), inactiveCount);
    }

    private static void checkRound(int round) {
        if (round < 0) {
            throw new IllegalArgumentException("round must be >= 0, got " + round);
        }
    }
}
