package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BlockPartitionTest {

    @Test
    void balancedBlocksAreContiguousNonEmptyAndCoverEveryLayer() {
        SplittableRandom random = new SplittableRandom(2);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(10);
            List<LayerShape> layers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                layers.add(new LayerShape("l" + i, new long[] {1 + random.nextInt(100), 1 + random.nextInt(100)}));
            }
            int j = 1 + random.nextInt(n);
            List<List<Integer>> blocks = BlockPartition.balanced(layers, j);
            assertEquals(j, blocks.size());
            int next = 0;
            for (List<Integer> block : blocks) {
                assertTrue(!block.isEmpty());
                for (int i : block) {
                    assertEquals(next++, i);
                }
            }
            assertEquals(n, next);
        }
    }

    @Test
    void balancedSplitsByWeightCount() {
        List<LayerShape> layers = List.of(new LayerShape("a", new long[] {10, 10}), new LayerShape("b", new long[] {10, 10}),
                new LayerShape("c", new long[] {20, 10}));
        assertEquals(List.of(List.of(0, 1), List.of(2)), BlockPartition.balanced(layers, 2));
    }

    @Test
    void bufferBudgetClosesABlockBeforeItOverflows() {
        List<LayerShape> layers = List.of(new LayerShape("a", new long[] {100}), new LayerShape("b", new long[] {100}),
                new LayerShape("c", new long[] {100}));
        // α = 0.5: buffers of 8·⌊0.5·kept⌋ = 80, 40, 160 bytes; budget 160.
        assertEquals(List.of(List.of(0, 1), List.of(2)), BlockPartition.forBufferBudget(layers, new int[] {20, 10, 40}, 0.5, 160));
        assertThrows(IllegalArgumentException.class, () -> BlockPartition.forBufferBudget(layers, new int[] {20, 10, 60}, 0.5, 160));
        assertEquals(8 * (3 + 4), BlockPartition.bufferBytes(List.of(0, 2), new int[] {3, 9, 4}));
    }

    @Test
    void weightUploadWithAValueAtAnInactiveWeightIsRejectedNamingTheLayer() {
        BitMask keep = PruneAndGrowTest.keep(1, 0, 1, 0);
        ActiveWeightsCheck.check(Map.of("w", new SparseTensor(4, new int[] {0, 2}, new float[] {1, 2})), Map.of("w", keep));
        InvalidContributionException e = assertThrows(InvalidContributionException.class,
                () -> ActiveWeightsCheck.check(Map.of("w", new SparseTensor(4, new int[] {0, 1}, new float[] {1, 2})), Map.of("w", keep)));
        assertEquals("weights[w]", e.field());
        assertTrue(e.getMessage().contains("index 1"), e.getMessage());
        assertEquals("weights[w]", assertThrows(InvalidContributionException.class,
                () -> ActiveWeightsCheck.check(Map.of("w", new SparseTensor(5, new int[] {0}, new float[] {1})), Map.of("w", keep))).field());
        assertEquals("weights", assertThrows(InvalidContributionException.class,
                () -> ActiveWeightsCheck.check(Map.of(), Map.of("w", keep))).field());
        assertEquals("weights[w]", assertThrows(InvalidContributionException.class,
                () -> ActiveWeightsCheck.check(Map.of("w", new SparseTensor(4, new int[] {0}, new float[] {Float.POSITIVE_INFINITY})), Map.of("w", keep))).field());
    }
}
