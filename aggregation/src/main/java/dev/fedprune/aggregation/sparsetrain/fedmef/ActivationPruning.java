package dev.fedprune.aggregation.sparsetrain.fedmef;


/**
 * Scaled activation pruning (SAP, algorithms.md 4.4 step 2 and 4.8, O-15): of a layer's flattened
 * input activation {@code x} (the whole batch), keep the {@code ⌊(1−γ)·|x|⌋} entries with the largest
 * {@code |x|}, ties to the lower flat index, so {@code γ} is the fraction removed. The kept entries are
 * stored in whichever of {@link StorageFormat} needs the fewest bytes, and never in more bytes than the
 * dense cache. Values are stored as float32 ({@code b_v = 4}), positions as int32 ({@code b_i = 4}).
 */
public final class ActivationPruning {

    private ActivationPruning() {
    }

    /**
     * {@code ⌊(1−γ)·size⌋}, computed as {@code (int)((1 − γ)·size)} in double precision like every count
     * in algorithms.md 0.2 (so {@code γ = 0.9} on 10 entries keeps 0, since {@code 1 − 0.9 < 0.1}).
     */
    public static int keptCount(int size, double gamma) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        checkGamma(gamma);
        return (int) ((1 - gamma) * size);
    }

    /** The bytes of each format for an activation of {@code size} entries at removal ratio {@code gamma}. */
    public static StorageCost cost(int size, double gamma) {
        return new StorageCost(size, keptCount(size, gamma));
    }

    /**
     * Flat positions of the {@code ⌊(1−γ)·|x|⌋} largest {@code |x|}, ascending. The threshold magnitude
     * is found by a two-pass radix selection on the float bits of {@code |x|} (which order like the
     * values for non-negative floats), in linear time with two histograms of 65,536 counts and no copy of
     * {@code x}; entries above it are kept, and as many entries equal to it as needed, lowest index first.
     *
     * @throws IllegalArgumentException if {@code gamma} is outside [0, 1] or an entry of {@code x} is not finite
     */
    public static int[] keptPositions(float[] x, double gamma) {
        int n = x.length;
        int kept = keptCount(n, gamma);
        int[] high = new int[1 << 16];
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[i])) {
                throw new IllegalArgumentException("x[" + i + "] is not finite: " + x[i]);
            }
            high[magnitude(x[i]) >>> 16]++;
        }
        int[] positions = new int[kept];
        if (kept == 0) {
            return positions;
        }
        // The kept-th largest magnitude: first its high 16 bits, then its low 16 bits within that bucket.
        int remaining = kept;
        int bucket = high.length - 1;
        while (high[bucket] < remaining) {
            remaining -= high[bucket--];
        }
        int[] low = new int[1 << 16];
        for (int i = 0; i < n; i++) {
            int m = magnitude(x[i]);
            if (m >>> 16 == bucket) {
                low[m & 0xffff]++;
            }
        }
        int lowBits = low.length - 1;
        while (low[lowBits] < remaining) {
            remaining -= low[lowBits--];
        }
        int threshold = bucket << 16 | lowBits;
        int atThreshold = remaining; // entries equal to the threshold that are kept
        int j = 0;
        for (int i = 0; i < n && j < kept; i++) {
            int m = magnitude(x[i]);
            if (m > threshold) {
                positions[j++] = i;
            } else if (m == threshold && atThreshold > 0) {
                positions[j++] = i;
                atThreshold--;
            }
        }
        return positions;
    }

    /** The int bits of {@code |v|} (-0 and +0 alike), which order like the magnitudes. */
    private static int magnitude(float v) {
        return Float.floatToRawIntBits(v) & 0x7fffffff;
    }

    /** Prunes {@code x} at removal ratio {@code gamma} and stores the kept entries in the cheapest format. */
    public static StoredActivation store(float[] x, double gamma) {
        int[] positions = keptPositions(x, gamma);
        return store(x, positions, new StorageCost(x.length, positions.length).cheapest());
    }

    /** Prunes {@code x} at removal ratio {@code gamma} and stores the kept entries in the given format. */
    public static StoredActivation store(float[] x, double gamma, StorageFormat format) {
        return store(x, keptPositions(x, gamma), format);
    }

    private static StoredActivation store(float[] x, int[] positions, StorageFormat format) {
        float[] values = new float[positions.length];
        for (int j = 0; j < positions.length; j++) {
            values[j] = x[positions[j]];
        }
        return switch (format) {
            case POSITIONS -> new StoredActivation.Positions(x.length, positions, values);
            case BITMAP -> {
                byte[] bits = new byte[(x.length + 7) >>> 3];
                for (int i : positions) {
                    bits[i >>> 3] |= (byte) (1 << (i & 7));
                }
                yield new StoredActivation.Bitmap(x.length, bits, values);
            }
            case DENSE -> {
                float[] dense = new float[x.length];
                for (int j = 0; j < positions.length; j++) {
                    dense[positions[j]] = values[j];
                }
                yield new StoredActivation.Dense(dense, positions.length);
            }
        };
    }

    private static void checkGamma(double gamma) {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalArgumentException("gamma must lie in [0, 1], got " + gamma);
        }
    }
}
