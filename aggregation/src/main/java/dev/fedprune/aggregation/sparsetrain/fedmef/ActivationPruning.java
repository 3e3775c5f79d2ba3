package dev.fedprune.aggregation.sparsetrain.fedmef;

import java.util.Arrays;

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
     * Flat positions of the {@code ⌊(1−γ)·|x|⌋} largest {@code |x|}, ascending. Works on the float bits of
     * {@code |x|} with two transient {@code int[|x|]} (the magnitudes and a sorted copy), freed on return.
     *
     * @throws IllegalArgumentException if {@code gamma} is outside [0, 1] or an entry of {@code x} is not finite
     */
    public static int[] keptPositions(float[] x, double gamma) {
        int n = x.length;
        int kept = keptCount(n, gamma);
        int[] magnitude = new int[n];
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[i])) {
                throw new IllegalArgumentException("x[" + i + "] is not finite: " + x[i]);
            }
            // For non-negative floats the int bits order like the values.
            magnitude[i] = Float.floatToIntBits(Math.abs(x[i]));
        }
        int[] positions = new int[kept];
        if (kept == 0) {
            return positions;
        }
        int[] sorted = magnitude.clone();
        Arrays.sort(sorted);
        int threshold = sorted[n - kept];
        int above = n - upperBound(sorted, threshold);
        int atThreshold = kept - above;
        int j = 0;
        for (int i = 0; i < n && j < kept; i++) {
            if (magnitude[i] > threshold) {
                positions[j++] = i;
            } else if (magnitude[i] == threshold && atThreshold > 0) {
                positions[j++] = i;
                atThreshold--;
            }
        }
        return positions;
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

    /** First index whose value is greater than {@code key} in an ascending array. */
    private static int upperBound(int[] sorted, int key) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
