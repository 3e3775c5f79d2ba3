package dev.fedprune.agent.cnn;

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
 */
public record ActivationMemory(long peakBytes, long denseCacheBytes) {

    public ActivationMemory {
        if (peakBytes < 0 || denseCacheBytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + peakBytes + " and " + denseCacheBytes);
        }
    }

    /** {@code peakBytes / denseCacheBytes}. */
    public double ratio() {
        return denseCacheBytes == 0 ? 0 : (double) peakBytes / denseCacheBytes;
    }
}
