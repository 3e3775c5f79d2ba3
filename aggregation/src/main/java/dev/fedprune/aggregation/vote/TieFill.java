package dev.fedprune.aggregation.vote;

import java.util.SplittableRandom;

/**
 * The random part of the layer group's tie fill, shared by both selection paths so that they draw the
 * same stream: selection sampling (Knuth's Algorithm S) over the tied weights in ascending index order,
 * which picks {@code need} of {@code left} uniformly without replacement in one pass and no buffer.
 */
final class TieFill {
    private TieFill() {
    }

    /**
     * Whether to take the current tied weight when {@code need} of the {@code left} remaining ones are
     * still to be taken: true with probability {@code need / left}. Uses a multiply-high instead of a
     * modulo (the bias is below 2^-32 for {@code left < 2^31}), because this runs once per tied weight.
     */
    static boolean take(SplittableRandom random, long need, long left) {
        if (random == null || need >= left) {
            return true;
        }
        return draw(random, need, left) != 0;
    }

    /** 1 with probability {@code need / left}, else 0, without a branch; needs {@code 0 < need < left}. */
    static long draw(SplittableRandom random, long need, long left) {
        long r = random.nextLong();
        long value = Math.multiplyHigh(r, left) + ((r >> 63) & left); // unsigned high word of r * left, in [0, left)
        return (value - need) >>> 63;
    }
}
