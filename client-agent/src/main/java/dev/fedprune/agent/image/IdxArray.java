package dev.fedprune.agent.image;

/**
 * The content of one unsigned-byte IDX file: its dimensions (the first is the item count) and its
 * values in row-major order, as stored.
 */
public record IdxArray(int[] dimensions, byte[] data) {

    public IdxArray {
        dimensions = dimensions.clone();
    }

    @Override
    public int[] dimensions() {
        return dimensions.clone();
    }

    public int count() {
        return dimensions[0];
    }
}
