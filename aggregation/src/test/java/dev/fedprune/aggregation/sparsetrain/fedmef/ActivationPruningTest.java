package dev.fedprune.aggregation.sparsetrain.fedmef;

import static dev.fedprune.aggregation.sparsetrain.fedmef.BudgetAwareExtrusionTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ActivationPruningTest {

    static final float[] O15_X = {0.5f, -2f, 0.1f, 3f, -0.2f, 1f};

    @Test
    void o15KeepsTheThreeLargestMagnitudesWithTheirPositions() {
        assertEquals(3, ActivationPruning.keptCount(6, 0.5));
        assertArrayEquals(new int[] {1, 3, 5}, ActivationPruning.keptPositions(O15_X, 0.5));
        StoredActivation stored = ActivationPruning.store(O15_X, 0.5, StorageFormat.POSITIONS);
        StoredActivation.Positions positions = (StoredActivation.Positions) stored;
        assertArrayEquals(new int[] {1, 3, 5}, positions.positions());
        assertArrayEquals(new float[] {-2f, 3f, 1f}, positions.values());
        assertArrayEquals(new float[] {0, -2f, 0, 3f, 0, 1f}, stored.rebuild());
    }

    @Test
    void o15EveryFormatRebuildsTheSameSparseInput() {
        for (StorageFormat format : StorageFormat.values()) {
            StoredActivation stored = ActivationPruning.store(O15_X, 0.5, format);
            assertEquals(format, stored.format());
            assertEquals(3, stored.keptCount(), format.name());
            assertArrayEquals(new float[] {0, -2f, 0, 3f, 0, 1f}, stored.rebuild(), format.name());
        }
        StoredActivation.Bitmap bitmap = (StoredActivation.Bitmap) ActivationPruning.store(O15_X, 0.5, StorageFormat.BITMAP);
        assertArrayEquals(new byte[] {0b101010}, bitmap.bits());
    }

    @Test
    void o15ByteCountsOfEachFormatAndTheChoice() {
        // |x| = 6, 3 kept, float32 values and int32 positions.
        StorageCost cost = ActivationPruning.cost(6, 0.5);
        assertEquals(24, cost.denseBytes());
        assertEquals(24, cost.positionsBytes());
        assertEquals(1 + 12, cost.bitmapBytes());
        assertEquals(StorageFormat.BITMAP, cost.cheapest());
        StoredActivation stored = ActivationPruning.store(O15_X, 0.5);
        assertEquals(StorageFormat.BITMAP, stored.format());
        assertEquals(13, stored.heldBytes());
    }

    @Test
    void chosenFormatFollowsSection48() {
        // Positions pay 8 bytes per kept value, the bitmap 4 plus |x|/8: positions win below |x|/32 kept.
        assertEquals(StorageFormat.POSITIONS, new StorageCost(1024, 31).cheapest());
        assertEquals(StorageFormat.POSITIONS, new StorageCost(1024, 32).cheapest()); // 256 = 128 + 128, tie to positions
        assertEquals(StorageFormat.BITMAP, new StorageCost(1024, 33).cheapest());
        // The bitmap beats dense while 128 + 4k < 4096, i.e. k <= 991.
        assertEquals(StorageFormat.BITMAP, new StorageCost(1024, 991).cheapest());
        assertEquals(StorageFormat.DENSE, new StorageCost(1024, 992).cheapest());
        assertEquals(StorageFormat.DENSE, new StorageCost(1024, 1024).cheapest());
        assertEquals(StorageFormat.POSITIONS, new StorageCost(1024, 0).cheapest());
        assertEquals(0, new StorageCost(1024, 0).cheapestBytes());
        // Dense at gamma = 0: nothing is dropped, the dense cache is the smallest.
        assertEquals(StorageFormat.DENSE, ActivationPruning.store(O15_X, 0).format());
    }

    @Test
    void gammaNinetyOnBatch64SmallCnnInputTakesTheBitmapUnderThirtyPercent() {
        // The first conv layer's input of the benchmark: 64 × 3 × 32 × 32 entries.
        StorageCost cost = ActivationPruning.cost(64 * 3 * 32 * 32, 0.9);
        assertEquals(19660, cost.kept());
        assertEquals(786432, cost.denseBytes());
        assertEquals(157280, cost.positionsBytes());
        assertEquals(24576 + 78640, cost.bitmapBytes());
        assertEquals(StorageFormat.BITMAP, cost.cheapest());
        assertTrue(cost.cheapestBytes() <= 0.3 * cost.denseBytes());
    }

    @Test
    void countsFollowTheDoublePrecisionTruncationRule() {
        assertEquals(0, ActivationPruning.keptCount(10, 0.9)); // (1 − 0.9)·10 = 0.9999999999999998
        assertEquals(3, ActivationPruning.keptCount(10, 0.7));
        assertEquals(10, ActivationPruning.keptCount(10, 0));
        assertEquals(0, ActivationPruning.keptCount(10, 1));
        assertEquals(0, ActivationPruning.keptCount(0, 0.5));
    }

    @Test
    void tiesGoToTheLowerIndex() {
        float[] x = {1f, -2f, 2f, -1f, 2f, 0f, -0f, 0f};
        assertArrayEquals(new int[] {1, 2}, ActivationPruning.keptPositions(x, 0.75));
        assertArrayEquals(new int[] {1, 2, 4}, ActivationPruning.keptPositions(x, 0.625));
        assertArrayEquals(new int[] {0, 1, 2, 4}, ActivationPruning.keptPositions(x, 0.5));
        // Only zeros left to pick: -0 ranks with 0, lower index first.
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, ActivationPruning.keptPositions(x, 0.25));
    }

    @Test
    void neverHoldsMoreThanTheDenseCacheAndRebuildsTheKeptEntriesOnRandomActivations() {
        SplittableRandom random = new SplittableRandom(17);
        for (int trial = 0; trial < 400; trial++) {
            int n = random.nextInt(600);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                // Post-ReLU-like: many exact zeros and repeated magnitudes, so ties are common.
                x[i] = random.nextDouble() < 0.3 ? 0f : (random.nextInt(11) - 5) * 0.5f;
            }
            double gamma = trial % 10 == 0 ? (trial % 20 == 0 ? 0 : 1) : random.nextDouble();
            StoredActivation stored = ActivationPruning.store(x, gamma);
            StorageCost cost = ActivationPruning.cost(n, gamma);
            String what = "trial " + trial + " n " + n + " gamma " + gamma;
            assertTrue(stored.heldBytes() <= cost.denseBytes(), what);
            assertEquals(cost.bytes(stored.format()), stored.heldBytes(), what);
            assertEquals(Math.min(cost.denseBytes(), Math.min(cost.positionsBytes(), cost.bitmapBytes())), stored.heldBytes(), what);
            assertEquals(cost.kept(), stored.keptCount(), what);

            int[] kept = ActivationPruning.keptPositions(x, gamma);
            BitMask isKept = new BitMask(n);
            for (int i : kept) {
                isKept.set(i);
            }
            float[] rebuilt = stored.rebuild();
            float smallestKept = Float.POSITIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (isKept.get(i)) {
                    assertEquals(x[i], rebuilt[i], what + " index " + i);
                    smallestKept = Math.min(smallestKept, Math.abs(x[i]));
                } else {
                    assertEquals(0f, rebuilt[i], what + " index " + i);
                }
            }
            // The kept set is the top by magnitude with ties to lower indices.
            for (int i = 0; i < n; i++) {
                if (!isKept.get(i)) {
                    float m = Math.abs(x[i]);
                    assertTrue(m <= smallestKept, what + " dropped " + i + " larger than a kept entry");
                    if (m == smallestKept) {
                        for (int j : kept) {
                            assertTrue(Math.abs(x[j]) > m || j < i, what + " tie at " + i + " lost to higher index " + j);
                        }
                    }
                }
            }
            for (StorageFormat format : StorageFormat.values()) {
                assertArrayEquals(rebuilt, ActivationPruning.store(x, gamma, format).rebuild(), what + " " + format);
            }
            assertArrayEquals(rebuilt, ActivationPruning.store(x, gamma).rebuild(), what + " same inputs, same result");
        }
    }

    @Test
    void o15WeightGradientUsesTheRebuiltInputAndTheInputGradientStaysExact() {
        // One sample, in = 6, out = 2: δ = [1, −2].
        float[] delta = {1f, -2f};
        float[] xTilde = ActivationPruning.store(O15_X, 0.5).rebuild();
        assertArrayEquals(new float[] {0, -2, 0, 3, 0, 1, 0, 4, 0, -6, 0, -2},
                LinearGradients.weightGradient(delta, xTilde, 1, 2, 6), 0f);
        float[] w = {1, 2, 3, 4, 5, 6, -1, 0, 1, 0, -1, 0.5f};
        // δ·W = [1 + 2, 2 − 0, 3 − 2, 4 − 0, 5 + 2, 6 − 1]
        assertArrayEquals(new float[] {3, 2, 1, 4, 7, 5}, LinearGradients.inputGradient(delta, w, 1, 2, 6), 0f);
    }

    @Test
    void gammaZeroGivesExactlyTheDenseWeightGradient() {
        SplittableRandom random = new SplittableRandom(23);
        int batch = 8;
        int in = 12;
        int out = 5;
        float[] x = new float[batch * in];
        float[] delta = new float[batch * out];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < delta.length; i++) {
            delta[i] = (float) random.nextGaussian();
        }
        float[] dense = LinearGradients.weightGradient(delta, x, batch, out, in);
        StoredActivation stored = ActivationPruning.store(x, 0);
        assertArrayEquals(x, stored.rebuild(), 0f);
        assertArrayEquals(dense, LinearGradients.weightGradient(delta, stored.rebuild(), batch, out, in), 0f);
        // At gamma = 0.5 the gradient differs, and only through the dropped entries.
        float[] half = LinearGradients.weightGradient(delta, ActivationPruning.store(x, 0.5).rebuild(), batch, out, in);
        boolean differs = false;
        for (int i = 0; i < dense.length; i++) {
            differs |= dense[i] != half[i];
        }
        assertTrue(differs);
    }

    @Test
    void refusesBadArgumentsNamingThem() {
        assertMessage("gamma must lie in [0, 1], got 1.5", () -> ActivationPruning.store(O15_X, 1.5));
        assertMessage("gamma must lie in [0, 1], got -0.1", () -> ActivationPruning.keptCount(6, -0.1));
        assertMessage("gamma must lie in [0, 1], got NaN", () -> ActivationPruning.keptCount(6, Double.NaN));
        assertMessage("x[2] is not finite: NaN", () -> ActivationPruning.store(new float[] {1, 2, Float.NaN}, 0.5));
        assertMessage("kept must lie in [0, size 4], got 5", () -> new StorageCost(4, 5));
        assertMessage("out has 5 entries, the activation 6", () -> ActivationPruning.store(O15_X, 0.5).rebuildInto(new float[5]));
        assertMessage("positions[1] = 1 must be in [0, 6) and above the previous position",
                () -> new StoredActivation.Positions(6, new int[] {3, 1}, new float[2]));
        assertMessage("positions[0] = 6 must be in [0, 6)", () -> new StoredActivation.Positions(6, new int[] {6}, new float[1]));
        assertMessage("bits marks 2 entries, values has 3", () -> new StoredActivation.Bitmap(6, new byte[] {0b11}, new float[3]));
        assertMessage("bits has bits set past the 6 entries", () -> new StoredActivation.Bitmap(6, new byte[] {(byte) 0b1000_0001}, new float[2]));
        assertMessage("delta has 3 values, shape [1, 2] needs 2", () -> LinearGradients.weightGradient(new float[3], O15_X, 1, 2, 6));
    }

    @Test
    void everySliceOfEveryFormatEqualsTheSameSliceOfTheWholeRebuild() {
        SplittableRandom random = new SplittableRandom(23);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(300);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = random.nextInt(4) == 0 ? 0f : (float) random.nextGaussian();
            }
            double gamma = random.nextDouble(0.99);
            for (StorageFormat format : StorageFormat.values()) {
                StoredActivation stored = ActivationPruning.store(x, gamma, format);
                float[] whole = stored.rebuild();
                int from = random.nextInt(n);
                float[] slice = new float[random.nextInt(n - from + 1)];
                java.util.Arrays.fill(slice, Float.NaN); // every entry must be written
                stored.rebuildInto(from, slice);
                assertArrayEquals(java.util.Arrays.copyOfRange(whole, from, from + slice.length), slice,
                        format + " slice [" + from + ", " + (from + slice.length) + ") of " + n);
            }
        }
        StoredActivation stored = ActivationPruning.store(O15_X, 0.5);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> stored.rebuildInto(4, new float[3]));
    }

    @Test
    void radixSelectionKeepsWhatAStableSortByMagnitudeKeeps() {
        SplittableRandom random = new SplittableRandom(31);
        for (int trial = 0; trial < 300; trial++) {
            int n = random.nextInt(2000);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                // Few distinct values in some trials (many ties), wide ranges and signed zeros in others.
                x[i] = trial % 3 == 0 ? random.nextInt(5) - 2f
                        : trial % 3 == 1 ? (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-30, 30))) : (random.nextBoolean() ? -0f : 0f);
            }
            double gamma = random.nextDouble();
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Float.compare(Math.abs(x[b]), Math.abs(x[a]))); // stable: ties keep the lower index first
            int kept = ActivationPruning.keptCount(n, gamma);
            int[] expected = new int[kept];
            for (int j = 0; j < kept; j++) {
                expected[j] = order[j];
            }
            java.util.Arrays.sort(expected);
            assertArrayEquals(expected, ActivationPruning.keptPositions(x, gamma), "trial " + trial);
        }
    }
}
