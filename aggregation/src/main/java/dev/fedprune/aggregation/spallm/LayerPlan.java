package dev.fedprune.aggregation.spallm;

import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * Which decoder layers each agent is sent, prunes and returns (FedSpaLLM layer sampling): agent id
 * → its layers in ascending order, and how many agents cover each layer; every layer is covered by
 * at least {@code minCoverage} agents.
 */
public record LayerPlan(int layerCount, int minCoverage, long seed, SortedMap<String, List<Integer>> layersByAgent,
                        List<Integer> coverage) implements LayerSampling {

    public LayerPlan {
        layersByAgent = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(layersByAgent));
        coverage = List.copyOf(coverage);
    }

    public List<Integer> layersOf(String agentId) {
        return layersByAgent.getOrDefault(agentId, List.of());
    }

    /** Agents assigned {@code layer}, in id order. */
    public List<String> agentsOf(int layer) {
        return layersByAgent.entrySet().stream().filter(e -> e.getValue().contains(layer)).map(Map.Entry::getKey).toList();
    }
}
