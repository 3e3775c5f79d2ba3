package dev.fedprune.aggregation.robust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Layer-at-a-time voting gives exactly the masks, agreement and exclusions of counting the whole round at once. */
class LayeredVoteTest {
    /** Three decoder layers of three tensors each, of different shapes. */
    static List<Map<String, long[]>> layers() {
        List<Map<String, long[]>> layers = new ArrayList<>();
        for (int l = 0; l < 3; l++) {
            Map<String, long[]> layer = new LinkedHashMap<>();
            layer.put("model.layers." + l + ".self_attn.q_proj.weight", new long[] {8, 16});
            layer.put("model.layers." + l + ".self_attn.k_proj.weight", new long[] {4, 16});
            layer.put("model.layers." + l + ".mlp.up_proj.weight", new long[] {24, 16});
            layers.add(layer);
        }
        return layers;
    }

    /** Agents prune around a shared mask with their own noise; the last two prune its complement. */
    static Map<String, Map<String, BitMask>> votes(List<Map<String, long[]>> layers, int agents, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, Map<String, BitMask>> out = new LinkedHashMap<>();
        for (int a = 0; a < agents; a++) {
            Map<String, BitMask> masks = new LinkedHashMap<>();
            for (Map<String, long[]> layer : layers) {
                layer.forEach((name, shape) -> {
                    BitMask m = new BitMask(shape[0] * shape[1]);
                    for (long i = 0; i < m.length(); i++) {
                        m.set(i, (i % 3 == 0) ^ (random.nextDouble() < 0.2));
                    }
                    masks.put(name, m);
                });
            }
            if (a >= agents - 2) {
                masks.replaceAll((name, m) -> {
                    BitMask flipped = new BitMask(m.length());
                    for (long i = 0; i < m.length(); i++) {
                        flipped.set(i, !m.get(i));
                    }
                    return flipped;
                });
            }
            out.put("agent-" + (char) ('a' + (agents - a)), masks);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} comparison, trim {1}, weighted {2}")
    @CsvSource({"LAYER, 0, false", "ROW, 0, true", "COLUMN, 0.3, false", "LAYER, 0.3, true", "ROW, 0.25, false"})
    void sameMasksAgreementAndExclusionsAsTheWholeRoundAtOnce(ComparisonGroup group, double trim, boolean weighted) throws Exception {
        List<Map<String, long[]>> layers = layers();
        Map<String, Map<String, BitMask>> votes = votes(layers, 7, 5);
        Map<String, Long> weights = new LinkedHashMap<>();
        int w = 1;
        for (String agent : votes.keySet()) {
            weights.put(agent, weighted ? (long) (8 - w++) * 3 : 1L); // the inverted agents weigh least
        }
        SelectionSpec spec = new SelectionSpec(group, 0.5, 0, 0, TieBreak.SEEDED_RANDOM, 9);

        Map<String, long[]> all = new LinkedHashMap<>();
        layers.forEach(all::putAll);
        VoteAccumulator whole = new VoteAccumulator(all);
        votes.forEach((agent, masks) -> whole.fold(agent, masks, weights.get(agent)));
        TrimmedVote.Result reference = TrimmedVote.run(whole, spec, trim, votes::get);
        Map<String, float[]> referenceScaled = new LinkedHashMap<>();
        float[] dense = new float[24 * 16];
        java.util.Arrays.fill(dense, 1f);
        reference.trimmedMasks().forEach((name, mask) -> referenceScaled.put(name,
                whole.prune(name, java.util.Arrays.copyOf(dense, (int) mask.length()), mask, true)));

        Map<String, BitMask> selected = new LinkedHashMap<>();
        Map<String, float[]> scaled = new LinkedHashMap<>();
        int[] sinkCalls = {0};
        LayeredVote.Result layered = LayeredVote.run(layers, weights, spec, trim, (agent, tensors) -> {
            Map<String, BitMask> out = new LinkedHashMap<>();
            tensors.forEach(t -> out.put(t, votes.get(agent).get(t)));
            return out;
        }, (counts, masks) -> {
            sinkCalls[0]++;
            selected.putAll(masks);
            masks.forEach((name, mask) -> scaled.put(name, counts.prune(name, java.util.Arrays.copyOf(dense, (int) mask.length()), mask, true)));
        });

        assertEquals(layers.size(), sinkCalls[0], "each layer reaches the sink once");
        assertEquals(reference.trimmedMasks(), selected);
        assertEquals(reference.excluded(), layered.excluded());
        assertEquals(reference.agreement(), layered.agreement());
        referenceScaled.forEach((name, values) -> assertArrayEquals(values, scaled.get(name), name));
        assertEquals((int) (7 * trim), layered.excluded().size());
        assertTrue(java.util.Set.of("agent-b", "agent-c").containsAll(layered.excluded()),
                "only the agents that inverted their masks are trimmed: " + layered.excluded());
    }

    @Test
    void holdsOneLayersCountersAtATime() throws Exception {
        List<Map<String, long[]>> layers = layers();
        Map<String, Map<String, BitMask>> votes = votes(layers, 3, 1);
        Map<String, Long> weights = new LinkedHashMap<>();
        votes.keySet().forEach(a -> weights.put(a, 1L));
        List<Integer> tensorsPerCall = new ArrayList<>();
        LayeredVote.run(layers, weights, SelectionSpec.unstructured(ComparisonGroup.ROW, 0.5, 1), 0, (agent, tensors) -> {
            Map<String, BitMask> out = new LinkedHashMap<>();
            tensors.forEach(t -> out.put(t, votes.get(agent).get(t)));
            return out;
        }, (counts, masks) -> tensorsPerCall.add(counts.shapes().size()));
        assertEquals(List.of(3, 3, 3), tensorsPerCall);
    }
}
