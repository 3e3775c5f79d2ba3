package dev.fedprune.aggregation.sparsetrain.fedmef;

/** How a layer keeps its pruned input activation for backward (algorithms.md 4.8). */
public enum StorageFormat {
    /** Every entry of {@code x̃}, zeros included: {@code 4·|x|} bytes. */
    DENSE,
    /** The kept values and their int32 flat positions: {@code (4 + 4)·kept} bytes. */
    POSITIONS,
    /** A bit per entry ({@code ⌈|x|/8⌉} bytes, set = kept) and the kept values: {@code ⌈|x|/8⌉ + 4·kept} bytes. */
    BITMAP
}
