package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CandidatePoolTest {
    private final List<LayerShape> layers = List.of(
            new LayerShape("conv1", new long[] {16, 1, 3, 3}),
            new LayerShape("conv2", new long[] {32, 16, 3, 3}),
            new LayerShape("conv3", new long[] {64, 32, 3, 3}),
            new LayerShape("fc", new long[] {10, 64}));

    private List<float[]> weights(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (LayerShape l : layers) {
            float[] w = new float[l.weightCount()];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) random.nextGaussian();
            }
            out.add(w);
        }
        return out;
    }

    @Test
    void magnitudeKeepMaskKeepsLargestMagnitudesWithLowestIndexTies() {
        BitMask keep = CandidatePool.magnitudeKeepMask(new float[] {0.5f, -0.9f, 0.5f, 0.1f, -0.5f}, 3);
        assertEquals(PruneAndGrowTest.keep(1, 1, 1, 0, 0), keep);
    }

    @Test
    void everyCandidateKeepsTheSameBudgetUnderDifferentAllocations() {
        List<float[]> w = weights(1);
        for (double density : new double[] {0.02, 0.1, 0.5}) {
            List<Candidate> pool = CandidatePool.generate(layers, w, density, CandidatePool.defaultAllocations(5, 0.5, 9));
            long budget = DensityAllocation.budget(layers, density);
            assertEquals(5, pool.size());
            for (Candidate c : pool) {
                assertEquals(budget, c.keptTotal(), c.allocation().label());
                for (int l = 0; l < layers.size(); l++) {
                    assertEquals(c.keptCounts()[l], c.keepMasks().get(l).cardinality());
                    assertEquals(layers.get(l).weightCount(), c.keepMasks().get(l).length());
                }
                assertEquals(c.keepMasks(), CandidatePool.keepMasks(w, c.keptCounts()), "agents rebuild the masks from the counts");
            }
            assertEquals("erk", pool.get(0).allocation().label());
            assertEquals("uniform", pool.get(1).allocation().label());
            assertEquals("er", pool.get(2).allocation().label());
            assertNotEquals(pool.get(0).keepMasks(), pool.get(1).keepMasks(), "ERK and uniform differ at " + density);
            assertNotEquals(pool.get(3).keepMasks(), pool.get(4).keepMasks());
        }
    }

    @Test
    void sameSeedSamePoolBitForBit() {
        List<Candidate> a = CandidatePool.generate(layers, weights(2), 0.1, CandidatePool.defaultAllocations(6, 0.3, 4));
        List<Candidate> b = CandidatePool.generate(layers, weights(2), 0.1, CandidatePool.defaultAllocations(6, 0.3, 4));
        for (int c = 0; c < a.size(); c++) {
            assertArrayEquals(a.get(c).keptCounts(), b.get(c).keptCounts());
            assertArrayEquals(a.get(c).densities(), b.get(c).densities());
            assertEquals(a.get(c).keepMasks(), b.get(c).keepMasks());
        }
        List<Candidate> other = CandidatePool.generate(layers, weights(2), 0.1, CandidatePool.defaultAllocations(6, 0.3, 5));
        assertTrue(!java.util.Arrays.equals(a.get(3).keptCounts(), other.get(3).keptCounts()));
    }

    @Test
    void rejectsWeightsThatDisagreeWithTheLayers() {
        List<float[]> w = weights(3);
        w.set(1, new float[5]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CandidatePool.generate(layers, w, 0.1, CandidatePool.defaultAllocations(3, 0.5, 0)));
        assertTrue(e.getMessage().contains("conv2"), e.getMessage());
    }
}
