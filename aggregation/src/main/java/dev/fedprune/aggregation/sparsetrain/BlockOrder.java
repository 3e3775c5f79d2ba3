package dev.fedprune.aggregation.sparsetrain;

/** The order in which progressive pruning visits the blocks of sparse layers (algorithms.md 3.4 B5). */
public enum BlockOrder {
    /** The block nearest the output first, moving toward the input, then wrapping around (default). */
    OUTPUT_TO_INPUT,
    /** The block nearest the input first. */
    INPUT_TO_OUTPUT
}
