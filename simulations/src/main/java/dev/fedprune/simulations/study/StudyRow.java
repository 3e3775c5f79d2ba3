package dev.fedprune.simulations.study;

import java.util.Map;

/**
 * One result of a study: a (method, comparison group, weight scaling, agents, sparsity, seed) setting
 * and what was measured. {@code ppl} is the perplexity on the evaluation data (for local-only, the mean
 * over the agents' own models, as in the FedPrLLM paper).
 */
public record StudyRow(String method, String comparisonGroup, boolean weightScaling, int agents, double sparsity, String pattern,
                       long seed, String state, double ppl, Map<String, Double> pplByCategory, double actualSparsity,
                       Map<String, Double> layerSparsity, Map<String, Double> tensorSparsity, double bytesPerAgent, Map<String, Double> phaseSeconds, int rounds,
                       Map<String, Long> failures) {
}
