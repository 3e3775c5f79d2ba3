package dev.fedprune.aggregation.vote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.robust.SparsityCheck;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Bad input leaves the accumulator unchanged; memory and thread-safety contracts. */
class VoteAccumulatorContractTest {
    static Map<String, long[]> shapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("q", new long[] {8, 16});
        shapes.put("k", new long[] {4, 16});
        return shapes;
    }

    static Map<String, BitMask> masks(SplittableRandom random) {
        Map<String, BitMask> m = new LinkedHashMap<>();
        m.put("q", Masks.perRow(8, 16, 8, random));
        m.put("k", Masks.perRow(4, 16, 8, random));
        return m;
    }

    static VoteAccumulator withOneAgent() {
        VoteAccumulator acc = new VoteAccumulator(shapes(), new SparsityCheck(0.5, 0.05));
        acc.fold("first", masks(new SplittableRandom(1)));
        return acc;
    }

    static void assertUnchanged(VoteAccumulator before, VoteAccumulator after) {
        assertEquals(before.agents(), after.agents());
        assertEquals(before.totalWeight(), after.totalWeight());
        for (String t : shapes().keySet()) {
            assertArrayEquals(before.votes(t), after.votes(t), t);
        }
    }

    @Test
    void rejectsDuplicateAgentAndKeepsCounts() {
        VoteAccumulator acc = withOneAgent();
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> acc.fold("first", masks(new SplittableRandom(2))));
        assertEquals("agent", e.field());
        assertTrue(e.getMessage().contains("first"));
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void rejectsMaskWithWrongLengthAndKeepsCounts() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> bad = masks(new SplittableRandom(3));
        bad.put("k", new BitMask(63));
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> acc.fold("second", bad));
        assertEquals("masks[k]", e.field());
        assertTrue(e.getMessage().contains("63 bits, expected 64"), e.getMessage());
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void rejectsUnknownTensorAndKeepsCounts() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> bad = masks(new SplittableRandom(3));
        bad.put("v", new BitMask(64));
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> acc.fold("second", bad));
        assertTrue(e.getMessage().contains("unknown tensor 'v'"), e.getMessage());
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void rejectsMissingTensorAndKeepsCounts() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> bad = masks(new SplittableRandom(3));
        bad.remove("q");
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> acc.fold("second", bad));
        assertTrue(e.getMessage().contains("missing mask for tensor 'q'"), e.getMessage());
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void rejectsMaskOffTheTargetSparsityNamingTensorMeasuredAndExpected() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> bad = masks(new SplittableRandom(4));
        bad.put("k", Masks.perRow(4, 16, 12, new SplittableRandom(5))); // 75% instead of 50%
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> acc.fold("second", bad));
        assertEquals("masks[k]", e.field());
        assertTrue(e.getMessage().contains("sparsity 0.750000") && e.getMessage().contains("target 0.500000")
                && e.getMessage().contains("tolerance 0.050000"), e.getMessage());
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void acceptsMaskWithinTheSparsityTolerance() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> ok = masks(new SplittableRandom(4));
        ok.get("q").set(ok.get("q").words()[0] == -1L ? 64 : Long.numberOfTrailingZeros(~ok.get("q").words()[0])); // 65/128
        acc.fold("second", ok);
        assertEquals(2, acc.agentCount());
    }

    @Test
    void rejectsWeightBelowOne() {
        VoteAccumulator acc = withOneAgent();
        assertThrows(InvalidContributionException.class, () -> acc.fold("second", masks(new SplittableRandom(6)), 0));
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void unfoldRemovesExactlyThatAgent() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> second = masks(new SplittableRandom(7));
        acc.fold("second", second, 3);
        acc.unfold("second", second);
        assertUnchanged(withOneAgent(), acc);
    }

    @Test
    void unfoldRejectsMasksTheAgentDidNotFoldAndKeepsCounts() {
        VoteAccumulator acc = withOneAgent();
        Map<String, BitMask> second = masks(new SplittableRandom(7));
        acc.fold("second", second);
        VoteAccumulator reference = withOneAgent();
        reference.fold("second", second);
        Map<String, BitMask> other = new LinkedHashMap<>(second);
        BitMask all = new BitMask(64);
        for (int i = 0; i < 64; i++) {
            all.set(i);
        }
        other.put("k", all); // sets bits where "second" voted 0, so "second" cannot have folded it
        VoteAccumulator alone = new VoteAccumulator(shapes());
        alone.fold("second", second);
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> alone.unfold("second", other));
        assertEquals("masks[k]", e.field());
        VoteAccumulator aloneReference = new VoteAccumulator(shapes());
        aloneReference.fold("second", second);
        assertUnchanged(aloneReference, alone);
        assertThrows(InvalidContributionException.class, () -> acc.unfold("nobody", second));
        assertUnchanged(reference, acc);
    }

    @Test
    void counterMemoryDoesNotGrowWithTheNumberOfAgents() {
        VoteAccumulator eight = new VoteAccumulator(shapes());
        VoteAccumulator many = new VoteAccumulator(shapes());
        SplittableRandom random = new SplittableRandom(8);
        for (int a = 0; a < 1000; a++) {
            Map<String, BitMask> m = masks(random);
            if (a < 8) {
                eight.fold("a" + a, m);
            }
            many.fold("a" + a, m);
        }
        assertEquals(eight.counterBytes(), many.counterBytes());
        assertEquals((16 + 4) * (2 + 1) * 8, many.counterBytes(), "16 main and 4 pending planes of 2 + 1 words");
    }

    @Test
    void concurrentFoldsGiveTheSameCountsAsSequentialOnes() throws Exception {
        List<Map<String, BitMask>> contributions = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(9);
        for (int a = 0; a < 64; a++) {
            contributions.add(masks(random));
        }
        VoteAccumulator sequential = new VoteAccumulator(shapes());
        for (int a = 0; a < 64; a++) {
            sequential.fold("a" + a, contributions.get(a));
        }
        VoteAccumulator concurrent = new VoteAccumulator(shapes());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int a = 0; a < 64; a++) {
                int agent = a;
                futures.add(pool.submit(() -> concurrent.fold("a" + agent, contributions.get(agent))));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertUnchanged(sequential, concurrent);
        assertEquals(64, concurrent.agentCount());
    }

    @Test
    void layerRoundsRestrictTheAccumulatorToOneDecoderLayer() {
        Map<String, long[]> model = new LinkedHashMap<>();
        for (int layer = 0; layer < 3; layer++) {
            model.put("model.layers." + layer + ".self_attn.q_proj.weight", new long[] {4, 4});
            model.put("model.layers." + layer + ".mlp.down_proj.weight", new long[] {4, 8});
            model.put("model.layers." + layer + ".input_layernorm.weight", new long[] {4, 1});
        }
        model.put("lm_head.weight", new long[] {10, 4});
        assertArrayEquals(new int[] {0, 1, 2}, LayerRounds.layers(model));
        VoteAccumulator round1 = LayerRounds.accumulatorForLayer(model, 1);
        assertEquals(Set.of("model.layers.1.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"), round1.shapes().keySet());
        assertThrows(IllegalArgumentException.class, () -> LayerRounds.tensorsOfLayer(model, 3));
    }

    @Test
    void scalingRejectsMissingVotes() {
        assertThrows(IllegalArgumentException.class, () -> WeightPruning.prune(new float[4], new BitMask(4), null, 3, true));
        assertThrows(IllegalArgumentException.class, () -> WeightPruning.prune(new float[4], new BitMask(5), null, 3, false));
    }

    @Test
    void pruningATensorSliceBySliceEqualsPruningItWhole() {
        VoteAccumulator acc = new VoteAccumulator(shapes(), new SparsityCheck(0.5, 0.05));
        for (int a = 0; a < 3; a++) {
            acc.fold("agent-" + a, masks(new SplittableRandom(10 + a)));
        }
        BitMask mask = acc.select("q", new SelectionSpec(ComparisonGroup.ROW, 0.5, 0, 0, TieBreak.LOWEST_INDEX, 1));
        float[] weights = new float[8 * 16];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = i - 60.5f;
        }
        for (boolean scale : new boolean[] {false, true}) {
            float[] whole = acc.prune("q", weights, mask, scale);
            float[] sliced = new float[weights.length];
            for (int from = 0; from < weights.length; from += 37) { // slices across 64-bit mask words
                int n = Math.min(37, weights.length - from);
                float[] part = acc.prune("q", from, java.util.Arrays.copyOfRange(weights, from, from + n), mask, scale);
                System.arraycopy(part, 0, sliced, from, n);
            }
            assertArrayEquals(whole, sliced, "scale " + scale);
        }
        assertThrows(IllegalArgumentException.class, () -> acc.prune("q", 120, new float[9], mask, false));
    }
}
