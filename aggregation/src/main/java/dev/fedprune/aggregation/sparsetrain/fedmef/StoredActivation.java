package dev.fedprune.aggregation.sparsetrain.fedmef;

import java.util.Arrays;

/**
 * A layer's input activation as scaled activation pruning keeps it for backward (algorithms.md 4.4
 * step 2): only the kept entries of {@code x}, in one of three encodings. Every encoding rebuilds the
 * same {@code x̃} (kept values in place, 0 elsewhere), so the weight gradient does not depend on the
 * encoding chosen. Values are float32 ({@code b_v = 4}). The arrays are owned by the instance and are
 * not copied; callers must not modify what they pass in or read out.
 */
public sealed interface StoredActivation {

    /** {@code |x|}: the number of entries of the activation. */
    int size();

    /** Number of kept entries. */
    int keptCount();

    StorageFormat format();

    /** Payload bytes of the arrays this instance holds (headers not counted). */
    long heldBytes();

    /** Writes {@code x̃} into {@code out}, which must have {@link #size()} entries. */
    void rebuildInto(float[] out);

    /**
     * Writes entries {@code [from, from + out.length)} of {@code x̃} into {@code out}: a slice of the
     * rebuilt activation (a few samples of the batch) without rebuilding the whole of it.
     */
    void rebuildInto(int from, float[] out);

    private static void checkRange(int from, float[] out, int size) {
        if (from < 0 || out.length > size - from) {
            throw new IllegalArgumentException("entries [" + from + ", " + ((long) from + out.length) + ") lie outside the activation of " + size);
        }
    }

    /** {@code x̃} as a new array. */
    default float[] rebuild() {
        float[] out = new float[size()];
        rebuildInto(out);
        return out;
    }

    private static void checkOut(float[] out, int size) {
        if (out.length != size) {
            throw new IllegalArgumentException("out has " + out.length + " entries, the activation " + size);
        }
    }

    /** {@code x̃} held in full, zeros included; {@code keptCount} says how many entries were kept. */
    record Dense(float[] values, int keptCount) implements StoredActivation {
        public Dense {
            if (keptCount < 0 || keptCount > values.length) {
                throw new IllegalArgumentException("keptCount must lie in [0, " + values.length + "], got " + keptCount);
            }
        }

        @Override
        public int size() {
            return values.length;
        }

        @Override
        public StorageFormat format() {
            return StorageFormat.DENSE;
        }

        @Override
        public long heldBytes() {
            return (long) values.length * StorageCost.VALUE_BYTES;
        }

        @Override
        public void rebuildInto(float[] out) {
            checkOut(out, values.length);
            System.arraycopy(values, 0, out, 0, values.length);
        }

        @Override
        public void rebuildInto(int from, float[] out) {
            checkRange(from, out, values.length);
            System.arraycopy(values, from, out, 0, out.length);
        }
    }

    /** Kept values with their flat positions, positions ascending. */
    record Positions(int size, int[] positions, float[] values) implements StoredActivation {
        public Positions {
            if (positions.length != values.length) {
                throw new IllegalArgumentException("positions has " + positions.length + " entries, values " + values.length);
            }
            for (int j = 0; j < positions.length; j++) {
                if (positions[j] < 0 || positions[j] >= size || (j > 0 && positions[j] <= positions[j - 1])) {
                    throw new IllegalArgumentException("positions[" + j + "] = " + positions[j]
                            + " must be in [0, " + size + ") and above the previous position");
                }
            }
        }

        @Override
        public int keptCount() {
            return values.length;
        }

        @Override
        public StorageFormat format() {
            return StorageFormat.POSITIONS;
        }

        @Override
        public long heldBytes() {
            return (long) positions.length * StorageCost.POSITION_BYTES + (long) values.length * StorageCost.VALUE_BYTES;
        }

        @Override
        public void rebuildInto(float[] out) {
            checkOut(out, size);
            Arrays.fill(out, 0);
            for (int j = 0; j < positions.length; j++) {
                out[positions[j]] = values[j];
            }
        }

        @Override
        public void rebuildInto(int from, float[] out) {
            checkRange(from, out, size);
            Arrays.fill(out, 0);
            int to = from + out.length;
            int j = Arrays.binarySearch(positions, from);
            for (j = j >= 0 ? j : -j - 1; j < positions.length && positions[j] < to; j++) {
                out[positions[j] - from] = values[j];
            }
        }
    }

    /**
     * A bitmap of {@code ⌈size/8⌉} bytes, byte {@code b} holding entries {@code 8b..8b+7} least
     * significant bit first (the packing of {@code BitMask.toBytes}), and the kept values in position order.
     */
    record Bitmap(int size, byte[] bits, float[] values) implements StoredActivation {
        public Bitmap {
            if (bits.length != (size + 7) >>> 3) {
                throw new IllegalArgumentException("bits has " + bits.length + " bytes, " + size + " entries need " + ((size + 7) >>> 3));
            }
            int set = 0;
            for (byte b : bits) {
                set += Integer.bitCount(b & 0xff);
            }
            if ((size & 7) != 0 && (bits[bits.length - 1] & 0xff) >>> (size & 7) != 0) {
                throw new IllegalArgumentException("bits has bits set past the " + size + " entries");
            }
            if (set != values.length) {
                throw new IllegalArgumentException("bits marks " + set + " entries, values has " + values.length);
            }
        }

        @Override
        public int keptCount() {
            return values.length;
        }

        @Override
        public StorageFormat format() {
            return StorageFormat.BITMAP;
        }

        @Override
        public long heldBytes() {
            return bits.length + (long) values.length * StorageCost.VALUE_BYTES;
        }

        @Override
        public void rebuildInto(float[] out) {
            checkOut(out, size);
            int j = 0;
            for (int i = 0; i < size; i++) {
                out[i] = (bits[i >>> 3] & (1 << (i & 7))) != 0 ? values[j++] : 0f;
            }
        }

        @Override
        public void rebuildInto(int from, float[] out) {
            checkRange(from, out, size);
            int j = 0; // values before entry `from`: whole bytes, then the bits of the partial byte
            for (int b = 0; b < from >>> 3; b++) {
                j += Integer.bitCount(bits[b] & 0xff);
            }
            for (int i = from & ~7; i < from; i++) {
                if ((bits[i >>> 3] & (1 << (i & 7))) != 0) {
                    j++;
                }
            }
            for (int i = 0; i < out.length; i++) {
                int e = from + i;
                out[i] = (bits[e >>> 3] & (1 << (e & 7))) != 0 ? values[j++] : 0f;
            }
        }
    }
}
