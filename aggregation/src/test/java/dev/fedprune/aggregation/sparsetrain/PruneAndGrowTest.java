package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PruneAndGrowTest {

    static BitMask keep(int... bits) {
        BitMask mask = new BitMask(bits.length);
        for (int i = 0; i < bits.length; i++) {
            mask.set(i, bits[i] == 1);
        }
        return mask;
    }

    @Test
    void o12PrunesSmallestActiveWeightsAndGrowsLargestGradientsAtZero() {
        float[] theta = {0.9f, -0.05f, 0.0f, 0.3f, 0.0f, -0.7f, 0.02f, 0.0f};
        BitMask k = keep(1, 1, 0, 1, 0, 1, 1, 0);
        float[] g = {0.1f, 0.5f, -0.8f, 0.0f, 0.3f, 0.2f, 0.05f, -0.6f};
        for (PruneAndGrow.Regrowth regrowth : PruneAndGrow.Regrowth.values()) {
            PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(theta, k, g, 2, regrowth);
            assertArrayEquals(new int[] {1, 6}, r.pruned(), regrowth.name());
            assertArrayEquals(new int[] {2, 7}, r.grown(), regrowth.name());
            assertEquals(keep(1, 0, 1, 1, 0, 1, 0, 1), r.keep(), regrowth.name());
            assertArrayEquals(new float[] {0.9f, 0, 0, 0.3f, 0, -0.7f, 0, 0}, r.weights(), regrowth.name());
        }
        assertEquals(keep(1, 1, 0, 1, 0, 1, 1, 0), k, "the input mask is not modified");
    }

    @Test
    void justPrunedWeightWithTheLargestGradientIsRegrownAtZeroOnlyWhenAllowed() {
        float[] theta = {0.01f, 0.9f, 0f, 0f};
        BitMask k = keep(1, 1, 0, 0);
        float[] g = {5f, 0f, 1f, 0f};
        PruneAndGrow.LayerAdjustment allowed = PruneAndGrow.adjust(theta, k, g, 1, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED);
        assertArrayEquals(new int[] {0}, allowed.grown());
        assertArrayEquals(new float[] {0, 0.9f, 0, 0}, allowed.weights());
        PruneAndGrow.LayerAdjustment excluded = PruneAndGrow.adjust(theta, k, g, 1, PruneAndGrow.Regrowth.EXCLUDE_JUST_PRUNED);
        assertArrayEquals(new int[] {2}, excluded.grown());
        assertEquals(keep(0, 1, 1, 0), excluded.keep());
    }

    @Test
    void sparseGradientWithTooFewEntriesFillsWithLowestInactiveIndices() {
        float[] theta = {0.5f, 0.4f, 0.3f, 0f, 0f, 0f, 0f};
        BitMask k = keep(1, 1, 1, 0, 0, 0, 0);
        SparseTensor g = new SparseTensor(7, new int[] {5}, new float[] {-0.2f});
        PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(theta, k, g, 2, PruneAndGrow.Regrowth.EXCLUDE_JUST_PRUNED);
        assertArrayEquals(new int[] {3, 5}, r.grown());
        PruneAndGrow.LayerAdjustment dense = PruneAndGrow.adjust(theta, k, g.toDense(), 2, PruneAndGrow.Regrowth.EXCLUDE_JUST_PRUNED);
        assertEquals(r.keep(), dense.keep());
    }

    @Test
    void layerDensityIsUnchangedAndInactiveWeightsAreZeroOnRandomLayers() {
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + random.nextInt(300);
            BitMask k = new BitMask(n);
            float[] theta = new float[n];
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                if (random.nextDouble() < 0.3) {
                    k.set(i);
                    // Few distinct magnitudes, so ties are common.
                    theta[i] = (random.nextInt(7) - 3) * 0.25f;
                }
                g[i] = random.nextDouble() < 0.5 ? 0 : (random.nextInt(9) - 4) * 0.5f;
            }
            int active = (int) k.cardinality();
            int kk = random.nextInt(Math.min(active, n - active) + 1);
            PruneAndGrow.Regrowth regrowth = random.nextBoolean() ? PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED : PruneAndGrow.Regrowth.EXCLUDE_JUST_PRUNED;
            PruneAndGrow.LayerAdjustment r = PruneAndGrow.adjust(theta, k, g, kk, regrowth);
            assertEquals(active, r.keep().cardinality(), "density preserved");
            assertEquals(kk, r.pruned().length);
            assertEquals(kk, r.grown().length);
            for (int i = 0; i < n; i++) {
                if (!r.keep().get(i)) {
                    assertEquals(0f, r.weights()[i]);
                }
            }
            for (int i : r.grown()) {
                assertEquals(0f, r.weights()[i], "grown weights start at 0");
                assertTrue(r.keep().get(i));
            }
            // The same step from the sparse form of the gradient gives the same mask.
            assertEquals(r.keep(), PruneAndGrow.adjust(theta, k, SparseTensor.ofDense(g), kk, regrowth).keep());
        }
    }

    @Test
    void rejectsBadInput() {
        BitMask k = keep(1, 0);
        assertThrows(IllegalArgumentException.class, () -> PruneAndGrow.adjust(new float[] {1, 0}, k, new float[] {0, 1}, 2, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED));
        assertThrows(IllegalArgumentException.class, () -> PruneAndGrow.adjust(new float[] {Float.NaN, 0}, k, new float[] {0, 1}, 1, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED));
        assertThrows(IllegalArgumentException.class, () -> PruneAndGrow.adjust(new float[] {1, 0, 0}, k, new float[] {0, 1, 0}, 1, PruneAndGrow.Regrowth.ALLOW_JUST_PRUNED));
    }
}
