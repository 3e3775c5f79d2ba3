package dev.fedprune.aggregation.vote;

/** How the layer group fills its last slots among weights with the threshold vote count. */
public enum TieBreak {
    /** Uniformly at random without replacement, from a seed: the reference behaviour, reproducible. */
    SEEDED_RANDOM,
    /** The lowest flat indices first. */
    LOWEST_INDEX
}
