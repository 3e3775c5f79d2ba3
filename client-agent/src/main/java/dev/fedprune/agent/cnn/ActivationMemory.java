package dev.fedprune.agent.cnn;

import dev.fedprune.aggregation.sparsetrain.fedmef.StorageFormat;
import java.util.List;

/**
 * What one training step held for backward, measured from the buffers the layer-wise trainer of
 * {@link NsConvCnn} actually allocates (array payload bytes; JVM headers not counted).
 *
 * @param peakBytes       the most bytes held at once: each conv/linear layer's stored input activation
 *                        (pruned by SAP, in the format it chose), each block's packed max-pool/ReLU
 *                        routing codes, and during backward the one batch slice of a layer's input that
 *                        is rebuilt (in the JVM and as a native tensor) to compute its weight gradient
 * @param denseCacheBytes the same cache without activation pruning: every conv/linear input as float32
 *                        plus the same routing codes, with nothing rebuilt (a dense cache is used in place)
 * @param inputs          each conv/linear layer's stored input, input to output
 * @param routeBytes      the routing codes of all blocks together
 */
public record ActivationMemory(long peakBytes, long denseCacheBytes, List<StoredInput> inputs, long routeBytes) {

    /** One layer's stored input: {@code entries} of the activation, {@code kept} of them in {@code format}. */
    public record StoredInput(String layer, int entries, int kept, StorageFormat format, long heldBytes) {
    }

    public ActivationMemory {
        if (peakBytes < 0 || denseCacheBytes < 0 || routeBytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + peakBytes + ", " + denseCacheBytes + " and " + routeBytes);
        }
        inputs = List.copyOf(inputs);
    }

    /** Nothing measured yet. */
    public static ActivationMemory none() {
        return new ActivationMemory(0, 0, List.of(), 0);
    }

    /** The stored inputs and routing codes, without the slice rebuilt during backward. */
    public long storedBytes() {
        return routeBytes + inputs.stream().mapToLong(StoredInput::heldBytes).sum();
    }

    /** {@code peakBytes / denseCacheBytes}. */
    public double ratio() {
        return denseCacheBytes == 0 ? 0 : (double) peakBytes / denseCacheBytes;
    }
}
