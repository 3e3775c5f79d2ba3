package dev.fedprune.aggregation.spallm;

import java.util.List;
import java.util.SortedMap;

/**
 * No assignment meets the job's minimum coverage: {@code reason} says which layers would fall short, by
 * how much, and what the agents' budgets hold. {@code underCoveredLayers} are those layers (ascending);
 * {@code layerCapacities} is how many layers each agent's budget holds.
 */
public record LayerSamplingRefusal(String reason, List<Integer> underCoveredLayers, int minCoverage,
                                   SortedMap<String, Integer> layerCapacities) implements LayerSampling {

    public LayerSamplingRefusal {
        underCoveredLayers = List.copyOf(underCoveredLayers);
        layerCapacities = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(layerCapacities));
    }
}
