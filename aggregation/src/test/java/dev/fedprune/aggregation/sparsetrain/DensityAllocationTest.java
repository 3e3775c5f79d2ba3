package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DensityAllocationTest {

    static List<LayerShape> layers(long[]... shapes) {
        List<LayerShape> out = new ArrayList<>();
        for (int i = 0; i < shapes.length; i++) {
            out.add(new LayerShape("l" + i, shapes[i]));
        }
        return out;
    }

    @Test
    void o16ErkDensitiesOfTwoLayersAtHalfDensity() {
        List<LayerShape> layers = layers(new long[] {4, 2}, new long[] {2, 2});
        double[] d = DensityAllocation.erk(layers, 0.5);
        assertEquals(0.45, d[0], 1e-12);
        assertEquals(0.6, d[1], 1e-12);
        assertEquals(6, DensityAllocation.budget(layers, 0.5));
        assertEquals(6.0, d[0] * 8 + d[1] * 4, 1e-12);
        int[] counts = DensityAllocation.keptCounts(layers, d, 6);
        // 3.6 and 2.4 weights: floors 3 + 2, the spare weight goes to the larger fraction (layer A).
        assertArrayEquals(new int[] {4, 2}, counts);
    }

    @Test
    void layerWhoseErkDensityWouldExceedOneBecomesDenseAndTheOthersShareTheRest() {
        // A: 100 weights, p = 0.2; B: 10 weights, p = 1.1. First pass ε = 55/31, ε·p_B = 1.95 > 1.
        // Second pass: rhs = 50 − ⌊0.5·10⌋ = 45, divisor = 20, ε = 2.25, density A = 0.45.
        List<LayerShape> layers = layers(new long[] {10, 10}, new long[] {1, 10});
        double[] d = DensityAllocation.erk(layers, 0.5);
        assertEquals(1.0, d[1]);
        assertEquals(0.45, d[0], 1e-12);
        assertArrayEquals(new int[] {45, 10}, DensityAllocation.keptCounts(layers, d, DensityAllocation.budget(layers, 0.5)));
    }

    @Test
    void denseParametersAreDeductedFromTheBudgetFirst() {
        List<LayerShape> layers = layers(new long[] {4, 2}, new long[] {2, 2});
        // 4 dense parameters: rhs = 6 − ⌊0.5·4⌋ = 4, ε = 0.4.
        double[] d = DensityAllocation.erk(layers, 0.5, 4);
        assertEquals(0.3, d[0], 1e-12);
        assertEquals(0.4, d[1], 1e-12);
    }

    @Test
    void convolutionKernelsCountForErkButNotForEr() {
        List<LayerShape> layers = layers(new long[] {16, 8, 3, 3}, new long[] {10, 16});
        double[] erk = DensityAllocation.erk(layers, 0.2);
        double[] er = DensityAllocation.er(layers, 0.2);
        assertEquals((16 + 8 + 3 + 3) / 1152.0 / ((10 + 16) / 160.0), erk[0] / erk[1], 1e-9);
        assertEquals((16 + 8) / 128.0 / ((10 + 16) / 160.0), er[0] / er[1], 1e-9);
    }

    @Test
    void densityOneMakesEveryLayerDense() {
        List<LayerShape> layers = layers(new long[] {4, 2}, new long[] {2, 2}, new long[] {3});
        assertArrayEquals(new double[] {1, 1, 1}, DensityAllocation.erk(layers, 1.0));
    }

    @Test
    void rejectsDensityOutsideZeroOne() {
        List<LayerShape> layers = layers(new long[] {4, 2});
        for (double bad : new double[] {0, -0.1, 1.01, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DensityAllocation.erk(layers, bad));
            assertTrue(e.getMessage().startsWith("density"), e.getMessage());
        }
    }

    @Test
    void everyAllocationMeetsTheSameBudgetExactlyWithDensitiesInZeroOne() {
        SplittableRandom random = new SplittableRandom(42);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(6);
            long[][] shapes = new long[n][];
            for (int i = 0; i < n; i++) {
                shapes[i] = random.nextBoolean()
                        ? new long[] {1 + random.nextInt(32), 1 + random.nextInt(16), 3, 3}
                        : new long[] {1 + random.nextInt(64), 1 + random.nextInt(64)};
            }
            List<LayerShape> layers = layers(shapes);
            double density = 0.01 + 0.99 * random.nextDouble();
            long budget = DensityAllocation.budget(layers, density);
            if (budget < n) {
                continue;
            }
            for (Allocation a : CandidatePool.defaultAllocations(5, 0.5, trial)) {
                double[] d = a.densities(layers, density);
                int[] counts = DensityAllocation.keptCounts(layers, d, budget);
                long sum = 0;
                for (int i = 0; i < n; i++) {
                    assertTrue(d[i] > 0 && d[i] <= 1, a.label() + " density " + d[i]);
                    assertTrue(counts[i] >= 1 && counts[i] <= layers.get(i).weightCount());
                    sum += counts[i];
                }
                assertEquals(budget, sum, a.label() + " on " + layers + " at " + density);
                double kept = 0;
                for (int i = 0; i < n; i++) {
                    kept += d[i] * layers.get(i).weightCount();
                }
                // ⌊(1−d)N⌋ for forced-dense layers may leave up to one weight per dense layer over the budget.
                assertEquals(budget, kept, n + 1e-6 * budget, a.label());
            }
        }
    }

    @Test
    void dirichletPerturbationIsDeterministicBySeedAndMovesWithIt() {
        List<LayerShape> layers = layers(new long[] {32, 1, 3, 3}, new long[] {64, 32, 3, 3}, new long[] {128, 64, 3, 3}, new long[] {10, 128});
        double[] a = DensityAllocation.dirichletPerturbedErk(layers, 0.1, 0.5, 7);
        double[] b = DensityAllocation.dirichletPerturbedErk(layers, 0.1, 0.5, 7);
        double[] c = DensityAllocation.dirichletPerturbedErk(layers, 0.1, 0.5, 8);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        assertFalse(Arrays.equals(a, DensityAllocation.erk(layers, 0.1)));
    }
}
