package dev.fedprune.aggregation.spallm;

/** The outcome of {@link LayerSampler#plan}: an assignment of decoder layers to agents, or why none exists. */
public sealed interface LayerSampling permits LayerPlan, LayerSamplingRefusal {
}
