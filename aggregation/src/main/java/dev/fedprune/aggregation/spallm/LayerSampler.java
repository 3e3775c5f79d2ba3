package dev.fedprune.aggregation.spallm;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * FedSpaLLM layer sampling (algorithms.md 1.14): each agent is sent only as many decoder layers as its
 * reported memory budget holds ({@code min(L, budget / bytesPerLayer)}), and every layer must be
 * covered by at least {@code minCoverage} agents.
 *
 * <p>Agents are visited in ascending id order; each takes the layers covered least so far, ties broken
 * by a fresh seeded shuffle of the layers per agent ({@link SplittableRandom} from the job's seed). By
 * induction coverage never differs by more than 1 between layers, so every layer ends with
 * {@code floor(T / L)} or {@code ceil(T / L)} agents, {@code T} being the agents' total capacity. No
 * assignment can do better (the coverage sums to {@code T}), so the plan is refused exactly when
 * {@code T < minCoverage * L}; the refusal names the layers this plan would leave short. The same seed
 * and budgets give the same plan, whatever the map's iteration order.
 */
public final class LayerSampler {
    private LayerSampler() {
    }

    public static LayerSampling plan(int layerCount, Map<String, Long> memoryBudgetBytes, long bytesPerLayer, int minCoverage, long seed) {
        if (layerCount < 1 || bytesPerLayer < 1 || minCoverage < 1) {
            throw new IllegalArgumentException("need layerCount, bytesPerLayer and minCoverage >= 1, got "
                    + layerCount + ", " + bytesPerLayer + ", " + minCoverage);
        }
        SortedMap<String, Integer> capacities = new TreeMap<>();
        memoryBudgetBytes.forEach((agent, budget) -> {
            if (budget == null || budget < 0) {
                throw new InvalidContributionException("memoryBudgetBytes[" + agent + "]", "must be >= 0, got " + budget);
            }
            capacities.put(agent, (int) Math.min(layerCount, budget / bytesPerLayer));
        });
        SplittableRandom random = new SplittableRandom(seed);
        int[] coverage = new int[layerCount];
        SortedMap<String, List<Integer>> layersByAgent = new TreeMap<>();
        capacities.forEach((agent, capacity) -> layersByAgent.put(agent, take(capacity, coverage, random)));
        List<Integer> coverageList = Arrays.stream(coverage).boxed().toList();
        List<Integer> shortLayers = new ArrayList<>();
        for (int layer = 0; layer < layerCount; layer++) {
            if (coverage[layer] < minCoverage) {
                shortLayers.add(layer);
            }
        }
        if (shortLayers.isEmpty()) {
            return new LayerPlan(layerCount, minCoverage, seed, layersByAgent, coverageList);
        }
        return new LayerSamplingRefusal(refusalReason(coverage, minCoverage, capacities, bytesPerLayer), shortLayers,
                minCoverage, capacities);
    }

    /** The {@code capacity} least-covered layers, ties in a fresh random order; increments their coverage. */
    private static List<Integer> take(int capacity, int[] coverage, SplittableRandom random) {
        int layers = coverage.length;
        int[] order = new int[layers];
        for (int i = 0; i < layers; i++) {
            int j = random.nextInt(i + 1); // inside-out Fisher-Yates
            order[i] = order[j];
            order[j] = i;
        }
        long[] keys = new long[layers];
        for (int position = 0; position < layers; position++) {
            keys[position] = (long) coverage[order[position]] << 32 | position;
        }
        Arrays.sort(keys);
        int[] chosen = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            chosen[i] = order[(int) keys[i]];
            coverage[chosen[i]]++;
        }
        Arrays.sort(chosen);
        return Arrays.stream(chosen).boxed().toList();
    }

    private static String refusalReason(int[] coverage, int minCoverage, SortedMap<String, Integer> capacities, long bytesPerLayer) {
        TreeMap<Integer, List<Integer>> shortByCoverage = new TreeMap<>();
        for (int layer = 0; layer < coverage.length; layer++) {
            if (coverage[layer] < minCoverage) {
                shortByCoverage.computeIfAbsent(coverage[layer], c -> new ArrayList<>()).add(layer);
            }
        }
        List<String> parts = new ArrayList<>();
        shortByCoverage.forEach((covered, layers) -> parts.add(LayerRanges.describe(layers)
                + " would be covered by " + covered + (covered == 1 ? " agent" : " agents")));
        long slots = capacities.values().stream().mapToLong(Integer::longValue).sum();
        String holds = capacities.isEmpty() ? "no agent reported a memory budget"
                : "the " + capacities.size() + (capacities.size() == 1 ? " agent's budget holds " : " agents' budgets hold ")
                + LayerRanges.joinAnd(capacities.values().stream().map(String::valueOf).toList()) + " layers ("
                + String.join(", ", capacities.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue()).toList())
                + "; one layer needs " + bytesPerLayer + " bytes)";
        return String.join(" and ", parts) + ", the job needs " + minCoverage + ": " + holds + ", " + slots
                + " layer slots where " + coverage.length + " layers x " + minCoverage + " need "
                + (long) coverage.length * minCoverage;
    }
}
