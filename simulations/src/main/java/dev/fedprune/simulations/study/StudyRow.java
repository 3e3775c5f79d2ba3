package dev.fedprune.simulations.study;

import java.util.Map;

/**
 * One result of a study: a (method, partition, comparison group, weight scaling, agents, sparsity, seed)
 * setting and what was measured. {@code ppl} is the perplexity on the evaluation data (for local-only,
 * the mean over the agents' own models, as in the FedPrLLM paper); {@code bytesPerAgent} is the mean
 * number of bytes an agent uploaded for the job.
 *
 * @param partition how the calibration data was split ({@link DataSplit#label()}); "none" for centralized
 * @param poisoning the run's malicious agents ({@link dev.fedprune.simulations.poisoning.Poisoning#label()}; "none")
 */
public record StudyRow(String method, String partition, String comparisonGroup, boolean weightScaling, int agents, double sparsity,
                       String pattern, long seed, String state, double ppl, Map<String, Double> pplByCategory, double actualSparsity,
                       Map<String, Double> layerSparsity, Map<String, Double> tensorSparsity, double bytesPerAgent, Map<String, Double> phaseSeconds, int rounds,
                       Map<String, Long> failures, String poisoning) {

    public StudyRow {
        poisoning = poisoning == null ? "none" : poisoning;
    }

    /** A run without malicious agents. */
    public StudyRow(String method, String partition, String comparisonGroup, boolean weightScaling, int agents, double sparsity,
                    String pattern, long seed, String state, double ppl, Map<String, Double> pplByCategory, double actualSparsity,
                    Map<String, Double> layerSparsity, Map<String, Double> tensorSparsity, double bytesPerAgent, Map<String, Double> phaseSeconds,
                    int rounds, Map<String, Long> failures) {
        this(method, partition, comparisonGroup, weightScaling, agents, sparsity, pattern, seed, state, ppl, pplByCategory, actualSparsity,
                layerSparsity, tensorSparsity, bytesPerAgent, phaseSeconds, rounds, failures, "none");
    }
}
