package dev.fedprune.aggregation.sparse;

import java.util.Arrays;

/**
 * The non-zero (or surviving, or top-K) entries of one tensor: strictly ascending flat row-major
 * indices below {@code size} and their finite values. An agent sends its surviving weights or its top-K
 * gradients this way; coordinates it leaves out count as 0.
 */
public record SparseTensor(long size, int[] indices, float[] values) {

    public SparseTensor {
        if (indices.length != values.length) {
            throw new IllegalArgumentException(indices.length + " indices but " + values.length + " values");
        }
        if (size < 0 || size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("sparse tensor size must be in [0, " + Integer.MAX_VALUE + "], got " + size);
        }
    }

    /** The entries of {@code dense} whose value is not zero. */
    public static SparseTensor ofDense(float[] dense) {
        int n = 0;
        for (float v : dense) {
            if (v != 0) {
                n++;
            }
        }
        int[] indices = new int[n];
        float[] values = new float[n];
        for (int i = 0, j = 0; i < dense.length; i++) {
            if (dense[i] != 0) {
                indices[j] = i;
                values[j++] = dense[i];
            }
        }
        return new SparseTensor(dense.length, indices, values);
    }

    public int nonZeroCount() {
        return indices.length;
    }

    public float[] toDense() {
        float[] out = new float[Math.toIntExact(size)];
        for (int i = 0; i < indices.length; i++) {
            out[indices[i]] = values[i];
        }
        return out;
    }

    /**
     * The first problem that makes this tensor invalid (unsorted or repeated index, index out of range,
     * NaN or infinite value), or null when it is valid.
     */
    public String problem() {
        int previous = -1;
        for (int i = 0; i < indices.length; i++) {
            int index = indices[i];
            if (index < 0 || index >= size) {
                return "index " + index + " at position " + i + " is out of range [0, " + size + ")";
            }
            if (index <= previous) {
                return "indices must be strictly ascending: index " + index + " at position " + i + " follows " + previous;
            }
            if (!Float.isFinite(values[i])) {
                return "value " + values[i] + " at index " + index + " (position " + i + ") is not finite";
            }
            previous = index;
        }
        return null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparseTensor t && t.size == size && Arrays.equals(t.indices, indices) && Arrays.equals(t.values, values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(indices) * 31 + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "SparseTensor[" + indices.length + " of " + size + "]";
    }
}
