package dev.fedprune.aggregation.sparsetrain;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.Arrays;

/**
 * The agent's bounded top-K gradient buffer of a FedTiny adjustment round (algorithms.md 3.4 B3): it
 * streams over the gradient of the inactive weights of one layer and keeps only the {@code k} entries
 * with the largest {@code |g|} (ties: lowest index), in a min-heap of primitive arrays, so a dense
 * gradient of the layer is never held. Values stay signed. Not thread-safe.
 */
public final class TopKGradientBuffer {
    private final int capacity;
    private final int[] heapIndex;
    private final float[] heapValue;
    private int size;

    public TopKGradientBuffer(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("top-K capacity must be >= 0, got " + capacity);
        }
        this.capacity = capacity;
        this.heapIndex = new int[capacity];
        this.heapValue = new float[capacity];
    }

    /**
     * The top-{@code k} of {@code gradient} at the positions that {@code keep} marks inactive (keep mask:
     * a set bit is an active weight, whose gradient is not wanted).
     */
    public static SparseTensor select(float[] gradient, BitMask keep, int k) {
        if (keep.length() != gradient.length) {
            throw new IllegalArgumentException("gradient of " + gradient.length + " values for a keep-mask of " + keep.length() + " bits");
        }
        TopKGradientBuffer buffer = new TopKGradientBuffer(k);
        long[] words = keep.words();
        for (int i = 0; i < gradient.length; i++) {
            if ((words[i >>> 6] & (1L << i)) == 0) {
                buffer.offer(i, gradient[i]);
            }
        }
        return buffer.toSparseTensor(gradient.length);
    }

    /** Offers one gradient entry; it stays if it is among the {@code k} largest by magnitude seen so far. */
    public void offer(int index, float value) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException("gradient at index " + index + " is not finite: " + value);
        }
        if (capacity == 0) {
            return;
        }
        if (size < capacity) {
            heapIndex[size] = index;
            heapValue[size] = value;
            siftUp(size++);
        } else if (worse(0, index, value)) {
            heapIndex[0] = index;
            heapValue[0] = value;
            siftDown(0);
        }
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return capacity;
    }

    /** Bytes held by the buffer's arrays: {@code 8·k}, whatever the layer size. */
    public long heldBytes() {
        return 8L * capacity;
    }

    /** The kept entries as a sparse tensor of {@code tensorSize} coordinates, indices ascending. */
    public SparseTensor toSparseTensor(long tensorSize) {
        int[] order = new int[size];
        long[] keys = new long[size];
        for (int i = 0; i < size; i++) {
            keys[i] = ((long) heapIndex[i] << 32) | i;
        }
        Arrays.sort(keys);
        int[] indices = new int[size];
        float[] values = new float[size];
        for (int i = 0; i < size; i++) {
            order[i] = (int) keys[i];
            indices[i] = heapIndex[order[i]];
            values[i] = heapValue[order[i]];
        }
        return new SparseTensor(tensorSize, indices, values);
    }

    /** True when the heap slot ranks below the candidate (smaller |g|, or equal |g| and larger index). */
    private boolean worse(int slot, int index, float value) {
        float a = Math.abs(heapValue[slot]);
        float b = Math.abs(value);
        return a < b || (a == b && heapIndex[slot] > index);
    }

    private boolean less(int i, int j) {
        return worse(i, heapIndex[j], heapValue[j]);
    }

    private void siftUp(int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!less(i, parent)) {
                return;
            }
            swap(i, parent);
            i = parent;
        }
    }

    private void siftDown(int i) {
        while (true) {
            int left = 2 * i + 1;
            if (left >= size) {
                return;
            }
            int smallest = left;
            int right = left + 1;
            if (right < size && less(right, left)) {
                smallest = right;
            }
            if (!less(smallest, i)) {
                return;
            }
            swap(i, smallest);
            i = smallest;
        }
    }

    private void swap(int i, int j) {
        int index = heapIndex[i];
        heapIndex[i] = heapIndex[j];
        heapIndex[j] = index;
        float value = heapValue[i];
        heapValue[i] = heapValue[j];
        heapValue[j] = value;
    }
}
