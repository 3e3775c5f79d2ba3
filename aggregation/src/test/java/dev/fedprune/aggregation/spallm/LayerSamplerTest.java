package dev.fedprune.aggregation.spallm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LayerSamplerTest {
    static final long LAYER_BYTES = 100;

    static Map<String, Long> budgets(Object... agentAndLayers) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < agentAndLayers.length; i += 2) {
            out.put((String) agentAndLayers[i], ((Number) agentAndLayers[i + 1]).longValue());
        }
        return out;
    }

    @Test
    void twoAgentsHoldingHalfTheModelEachSplitItWithoutOverlap() {
        LayerPlan plan = assertInstanceOf(LayerPlan.class,
                LayerSampler.plan(4, budgets("a", 250L, "b", 200L), LAYER_BYTES, 1, 7));
        assertEquals(2, plan.layersOf("a").size(), "250 bytes hold 2 layers of 100");
        assertEquals(2, plan.layersOf("b").size());
        Set<Integer> union = new HashSet<>(plan.layersOf("a"));
        union.addAll(plan.layersOf("b"));
        assertEquals(Set.of(0, 1, 2, 3), union);
        assertEquals(List.of(1, 1, 1, 1), plan.coverage());
    }

    @Test
    void refusesNamingTheShortLayersTheNeedAndEveryBudget() {
        LayerSamplingRefusal refusal = assertInstanceOf(LayerSamplingRefusal.class,
                LayerSampler.plan(16, budgets("a", 400L, "b", 499L, "c", 800L), LAYER_BYTES, 2, 1));
        assertEquals("layers 0-15 would be covered by 1 agent, the job needs 2: the 3 agents' budgets hold 4, 4 and 8 layers"
                + " (a: 4, b: 4, c: 8; one layer needs 100 bytes), 16 layer slots where 16 layers x 2 need 32", refusal.reason());
        assertEquals(16, refusal.underCoveredLayers().size());
        assertEquals(Map.of("a", 4, "b", 4, "c", 8), refusal.layerCapacities());
    }

    @Test
    void refusalListsOnlyTheLayersThatFallShort() {
        LayerSamplingRefusal refusal = assertInstanceOf(LayerSamplingRefusal.class,
                LayerSampler.plan(4, budgets("a", 300L, "b", 200L), LAYER_BYTES, 2, 3));
        assertEquals(3, refusal.underCoveredLayers().size(), "5 slots over 4 layers: one layer gets 2 agents");
        assertTrue(refusal.reason().contains(" would be covered by 1 agent, the job needs 2: "), refusal.reason());
        assertTrue(refusal.reason().startsWith("layers "), refusal.reason());
    }

    @Test
    void agentWhoseBudgetHoldsNoLayerGetsNoneAndIsNamedInRefusals() {
        LayerPlan plan = assertInstanceOf(LayerPlan.class,
                LayerSampler.plan(3, budgets("a", 300L, "tiny", 99L), LAYER_BYTES, 1, 0));
        assertEquals(List.of(), plan.layersOf("tiny"));
        assertEquals(List.of(0, 1, 2), plan.layersOf("a"));
        LayerSamplingRefusal refusal = assertInstanceOf(LayerSamplingRefusal.class,
                LayerSampler.plan(3, budgets("tiny", 99L), LAYER_BYTES, 1, 0));
        assertEquals("layers 0-2 would be covered by 0 agents, the job needs 1: the 1 agent's budget holds 0 layers"
                + " (tiny: 0; one layer needs 100 bytes), 0 layer slots where 3 layers x 1 need 3", refusal.reason());
    }

    @Test
    void refusesWithoutAgents() {
        LayerSamplingRefusal refusal = assertInstanceOf(LayerSamplingRefusal.class,
                LayerSampler.plan(2, Map.of(), LAYER_BYTES, 1, 0));
        assertTrue(refusal.reason().contains("no agent reported a memory budget"), refusal.reason());
    }

    @Test
    void budgetBeyondTheModelIsCappedAtEveryLayerOnce() {
        LayerPlan plan = assertInstanceOf(LayerPlan.class,
                LayerSampler.plan(3, budgets("a", 10_000L), LAYER_BYTES, 1, 0));
        assertEquals(List.of(0, 1, 2), plan.layersOf("a"));
    }

    @Test
    void rejectsNegativeBudgetNamingTheAgent() {
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> LayerSampler.plan(2, budgets("a", -1L), LAYER_BYTES, 1, 0));
        assertEquals("memoryBudgetBytes[a]", e.field());
    }

    @Test
    void sameSeedSamePlanWhateverTheBudgetOrder() {
        Map<String, Long> forward = budgets("a", 500L, "b", 300L, "c", 700L, "d", 200L);
        Map<String, Long> backward = budgets("d", 200L, "c", 700L, "b", 300L, "a", 500L);
        LayerSampling first = LayerSampler.plan(10, forward, LAYER_BYTES, 1, 42);
        assertEquals(first, LayerSampler.plan(10, backward, LAYER_BYTES, 1, 42));
        assertNotEquals(first, LayerSampler.plan(10, forward, LAYER_BYTES, 1, 43), "the seed spreads the layers");
    }

    @Test
    void coverageIsBalancedAndMeetsTheMinimumWheneverTheBudgetsAllowIt() {
        SplittableRandom random = new SplittableRandom(17);
        for (int trial = 0; trial < 300; trial++) {
            int layers = 1 + random.nextInt(40);
            int agents = random.nextInt(8);
            int minCoverage = 1 + random.nextInt(3);
            Map<String, Long> budgets = new LinkedHashMap<>();
            long slots = 0;
            for (int a = 0; a < agents; a++) {
                long budget = random.nextLong(0, LAYER_BYTES * (layers + 5));
                budgets.put("agent" + a, budget);
                slots += Math.min(layers, budget / LAYER_BYTES);
            }
            LayerSampling result = LayerSampler.plan(layers, budgets, LAYER_BYTES, minCoverage, trial);
            int[] coverage = new int[layers];
            if (result instanceof LayerPlan plan) {
                assertTrue(slots >= (long) minCoverage * layers);
                for (Map.Entry<String, Long> e : budgets.entrySet()) {
                    List<Integer> assigned = plan.layersOf(e.getKey());
                    assertEquals(Math.min(layers, e.getValue() / LAYER_BYTES), assigned.size(), "as many layers as the budget holds");
                    assertEquals(assigned.stream().sorted().distinct().toList(), assigned, "distinct, ascending");
                    assigned.forEach(l -> coverage[l]++);
                }
                for (int l = 0; l < layers; l++) {
                    assertEquals(coverage[l], plan.coverage().get(l));
                    assertTrue(coverage[l] >= minCoverage);
                    assertTrue(coverage[l] == slots / layers || coverage[l] == (slots + layers - 1) / layers, "balanced");
                }
            } else {
                LayerSamplingRefusal refusal = (LayerSamplingRefusal) result;
                assertTrue(slots < (long) minCoverage * layers, refusal.reason());
                assertTrue(!refusal.underCoveredLayers().isEmpty());
            }
        }
    }
}
