package dev.fedprune.agent.prune;

import dev.fedprune.proto.v1.PruneMethod;

/**
 * How a local pruner runs: the method and target, Wanda's optional adaptive variant, SparseGPT's block
 * size and damping fraction.
 */
public record PruneOptions(PruneMethod method, Sparsity sparsity, boolean wandaVariant, int blockSize, double damping) {
    public PruneOptions {
        if (!PruneMethods.isLocalPruner(method)) {
            throw new IllegalArgumentException("prune method " + method + " is not one of magnitude, wanda, sparsegpt");
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        }
        if (!(damping >= 0)) {
            throw new IllegalArgumentException("damping must be >= 0, got " + damping);
        }
        if (wandaVariant && (method != PruneMethod.PRUNE_METHOD_WANDA || sparsity.isNm() || !sparsity.perRow())) {
            throw new IllegalArgumentException("the Wanda variant applies to unstructured per-row Wanda only");
        }
    }

    public static PruneOptions of(PruneMethod method, Sparsity sparsity) {
        return new PruneOptions(method, sparsity, false, SparseGpt.DEFAULT_BLOCK, SparseGpt.DEFAULT_DAMPING);
    }

    public boolean needsData() {
        return method != PruneMethod.PRUNE_METHOD_MAGNITUDE;
    }
}
