package dev.fedprune.aggregation.sparsetrain.fedmef;

/**
 * The bytes each storage format needs for one pruned activation of {@code size} entries of which
 * {@code kept} are kept (algorithms.md 4.8), with values as float32 ({@code b_v = 4}) and positions as
 * int32 ({@code b_i = 4}). Array payloads only; JVM object and array headers are not counted.
 */
public record StorageCost(int size, int kept) {

    public static final int VALUE_BYTES = Float.BYTES;
    public static final int POSITION_BYTES = Integer.BYTES;

    public StorageCost {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        if (kept < 0 || kept > size) {
            throw new IllegalArgumentException("kept must lie in [0, size " + size + "], got " + kept);
        }
    }

    /** {@code |x|·b_v}: the cache without activation pruning. */
    public long denseBytes() {
        return (long) size * VALUE_BYTES;
    }

    /** {@code kept·(b_v + b_i)}. */
    public long positionsBytes() {
        return (long) kept * (VALUE_BYTES + POSITION_BYTES);
    }

    /** {@code ⌈|x|/8⌉ + kept·b_v}. */
    public long bitmapBytes() {
        return ((size + 7L) >>> 3) + (long) kept * VALUE_BYTES;
    }

    public long bytes(StorageFormat format) {
        return switch (format) {
            case DENSE -> denseBytes();
            case POSITIONS -> positionsBytes();
            case BITMAP -> bitmapBytes();
        };
    }

    /**
     * The format with the fewest bytes. A sparse format must beat dense strictly to be chosen, so SAP
     * never holds more than the dense cache; between positions and bitmap a tie goes to positions.
     */
    public StorageFormat cheapest() {
        long dense = denseBytes();
        long positions = positionsBytes();
        long bitmap = bitmapBytes();
        if (positions < dense && positions <= bitmap) {
            return StorageFormat.POSITIONS;
        }
        if (bitmap < dense) {
            return StorageFormat.BITMAP;
        }
        return StorageFormat.DENSE;
    }

    public long cheapestBytes() {
        return bytes(cheapest());
    }
}
