package dev.fedprune.aggregation.vote;

/** The set of weights within which the server picks the most-voted ones to prune (algorithms.md 1.4). */
public enum ComparisonGroup {
    /** The whole matrix. */
    LAYER,
    /** Each output row. */
    ROW,
    /** Each input column. */
    COLUMN
}
