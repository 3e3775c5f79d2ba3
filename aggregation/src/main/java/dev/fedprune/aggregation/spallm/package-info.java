/**
 * Server-side mathematics of FedSpaLLM (Bai et al., NAACL 2025; algorithms.md 1.14), as pure
 * functions of the agents' contributions, to be wired into the coordinator's round engine.
 *
 * <ol>
 *   <li>{@link dev.fedprune.aggregation.spallm.L0NormAccumulator}: l0-norm aggregation of one tensor
 *       from the agents' pruned sparse tensors, streamed one agent at a time, with exact per-weight
 *       sums so the result is bit-identical whatever the fold order.</li>
 *   <li>{@link dev.fedprune.aggregation.spallm.MaskExpansion}: adaptive mask expansion to the target
 *       sparsity per comparison group (layer, row or column); ties by prune count, then smallest
 *       aggregated magnitude, then lowest flat index; weights pruned by every agent stay pruned even
 *       where they alone exceed the target (reported as excess).</li>
 *   <li>{@link dev.fedprune.aggregation.spallm.LayerSampler}: seeded assignment of decoder layers to
 *       agents by memory budget with a minimum coverage per layer, or a refusal that says which layers
 *       fall short and why.</li>
 * </ol>
 */
package dev.fedprune.aggregation.spallm;
