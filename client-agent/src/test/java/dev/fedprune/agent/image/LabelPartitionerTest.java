package dev.fedprune.agent.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LabelPartitionerTest {
    private static int[] labels(int n, int classes) {
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = (i * 7) % classes;
        }
        return labels;
    }

    private static void assertExactCover(List<int[]> parts, int n) {
        boolean[] seen = new boolean[n];
        int total = 0;
        for (int[] p : parts) {
            for (int j = 0; j < p.length; j++) {
                assertFalse(seen[p[j]], "sample " + p[j] + " given twice");
                seen[p[j]] = true;
                if (j > 0) {
                    assertTrue(p[j] > p[j - 1], "indices ascending");
                }
            }
            total += p.length;
        }
        assertEquals(n, total);
    }

    @Test
    void iidCoversEverySampleOnceWithSizesWithinOne() {
        List<int[]> parts = LabelPartitioner.iid(1003, 10, 100, 5);
        assertExactCover(parts, 1003);
        for (int[] p : parts) {
            assertTrue(p.length == 100 || p.length == 101);
        }
        List<int[]> again = LabelPartitioner.iid(1003, 10, 100, 5);
        for (int a = 0; a < 10; a++) {
            assertArrayEquals(parts.get(a), again.get(a));
        }
    }

    @Test
    void dirichletCoversEverySampleOnceHoldsTheMinimumAndIsDeterministicBySeed() {
        int[] labels = labels(2000, 10);
        List<int[]> a = LabelPartitioner.dirichlet(labels, 10, 10, 0.5, 10, 42);
        assertExactCover(a, 2000);
        for (int[] p : a) {
            assertTrue(p.length >= 10, "agent has " + p.length);
        }
        List<int[]> b = LabelPartitioner.dirichlet(labels, 10, 10, 0.5, 10, 42);
        List<int[]> c = LabelPartitioner.dirichlet(labels, 10, 10, 0.5, 10, 43);
        boolean differs = false;
        for (int i = 0; i < 10; i++) {
            assertArrayEquals(a.get(i), b.get(i));
            differs |= !java.util.Arrays.equals(a.get(i), c.get(i));
        }
        assertTrue(differs);
    }

    @Test
    void smallerAlphaSkewsTheLabelsMore() {
        int[] labels = labels(5000, 10);
        assertTrue(meanDominantShare(LabelPartitioner.dirichlet(labels, 10, 10, 0.1, 1, 1), labels)
                > meanDominantShare(LabelPartitioner.dirichlet(labels, 10, 10, 100, 1, 1), labels) + 0.2);
    }

    private static double meanDominantShare(List<int[]> parts, int[] labels) {
        double sum = 0;
        for (int[] p : parts) {
            int[] count = new int[10];
            for (int i : p) {
                count[labels[i]]++;
            }
            sum += (double) java.util.Arrays.stream(count).max().orElse(0) / p.length;
        }
        return sum / parts.size();
    }

    @Test
    void rejectsImpossibleMinimumAndBadParameters() {
        int[] labels = labels(100, 10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LabelPartitioner.dirichlet(labels, 10, 10, 0.5, 11, 1));
        assertTrue(e.getMessage().contains("at least 11"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LabelPartitioner.dirichlet(labels, 10, 10, 0.0, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> LabelPartitioner.dirichlet(new int[] {0, 10}, 10, 1, 0.5, 1, 1));
        IllegalArgumentException draws = assertThrows(IllegalArgumentException.class, () -> LabelPartitioner.dirichlet(labels, 10, 10, 0.01, 10, 1));
        assertTrue(draws.getMessage().contains("1000 draws"), draws.getMessage());
    }
}
