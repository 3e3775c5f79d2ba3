/**
 * FedMef's agent-side algorithm pieces (algorithms.md section 4, "Paper" column of 4.9): budget-aware
 * extrusion (marking, squared-L2 penalty, REX learning rate; O-14), scaled activation pruning with the
 * per-layer storage choice (O-15) and NSConv's mask-aware weight standardisation (4.5). Masks here are
 * keep-masks, as in the rest of {@code sparsetrain}: a set bit is an active weight.
 */
package dev.fedprune.aggregation.sparsetrain.fedmef;
