package dev.fedprune.aggregation.sparsetrain;

/** What a round of federated sparse training does (algorithms.md 3.4 B0). */
public enum RoundMode {
    /** Local training and sparse FedAvg; the mask does not change. */
    NORMAL,
    /** Local training, top-K gradient upload for one block, then server prune-and-grow of that block. */
    ADJUSTMENT,
    /** The round after an adjustment: the server sends the new keep-mask with the weights. */
    MASK_SYNC
}
