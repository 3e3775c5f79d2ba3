package dev.fedprune.aggregation.sparsetrain;

/** How ABNS combines the agents' BatchNorm variances (algorithms.md 3.3 A4). */
public enum BnPooling {
    /** Weighted FedAvg of the variances: {@code σ² = Σ_k (n_k/n) σ²_k}. */
    PLAIN,
    /** The variance of the pooled data: PLAIN plus {@code Σ_k (n_k/n)(μ_k − μ)²}. */
    EXACT
}
