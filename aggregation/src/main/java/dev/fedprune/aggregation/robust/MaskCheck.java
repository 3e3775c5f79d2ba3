package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.format.BitMask;
import java.util.List;
import java.util.Map;

/**
 * A validation of one agent's masks before they are folded; throws
 * {@link dev.fedprune.aggregation.InvalidContributionException} naming the tensor and what was
 * expected. The accumulator runs it before any count changes.
 */
@FunctionalInterface
public interface MaskCheck {
    void check(Map<String, BitMask> masks);

    /** Every check in order; the first failure is thrown. */
    static MaskCheck all(MaskCheck... checks) {
        List<MaskCheck> list = List.of(checks);
        return masks -> list.forEach(c -> c.check(masks));
    }
}
