package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import org.junit.jupiter.api.Test;

class NeighbourGraphTest {
    static byte[] seed(int b) {
        byte[] s = new byte[32];
        s[0] = (byte) b;
        return s;
    }

    @Test
    void isRegularSymmetricLooplessAndConnected() {
        for (int n : new int[] {20, 21, 64, 100}) {
            for (int d : new int[] {2, 4, 8, 12}) {
                NeighbourGraph g = NeighbourGraph.harary(n, d, seed(n + d));
                for (int a = 0; a < n; a++) {
                    assertEquals(d, g.neighbours(a).length, "n=" + n + " d=" + d);
                    assertFalse(g.adjacent(a, a));
                    for (int b : g.neighbours(a)) {
                        assertTrue(g.adjacent(b, a));
                    }
                }
                assertEquals(n, reachable(g));
            }
        }
        NeighbourGraph odd = NeighbourGraph.harary(20, 5, seed(1));
        for (int a = 0; a < 20; a++) {
            assertEquals(5, odd.neighbours(a).length);
        }
    }

    @Test
    void isAPureFunctionOfTheSeed() {
        NeighbourGraph a = NeighbourGraph.harary(64, 12, seed(9));
        NeighbourGraph b = NeighbourGraph.harary(64, 12, seed(9));
        NeighbourGraph c = NeighbourGraph.harary(64, 12, seed(10));
        boolean differs = false;
        for (int i = 0; i < 64; i++) {
            assertArrayEquals(a.neighbours(i), b.neighbours(i));
            differs |= !java.util.Arrays.equals(a.neighbours(i), c.neighbours(i));
        }
        assertTrue(differs, "another seed gives another labelling");
    }

    @Test
    void degreeAtLeastAgentsMinusOneIsTheCompleteGraph() {
        NeighbourGraph g = NeighbourGraph.harary(6, 10, seed(0));
        assertArrayEquals(new int[] {0, 1, 2, 4, 5}, g.neighbours(3));
        assertEquals(12, NeighbourGraph.recommendedDegree(64));
        assertEquals(5, NeighbourGraph.recommendedDegree(6));
    }

    @Test
    void refusesOddDegreeOnOddAgentCountAndNumbersSharePointsByNeighbourPosition() {
        assertThrows(IllegalArgumentException.class, () -> NeighbourGraph.harary(21, 5, seed(0)));
        NeighbourGraph g = NeighbourGraph.harary(20, 8, seed(3));
        int[] ns = g.neighbours(7);
        for (int i = 0; i < ns.length; i++) {
            assertEquals(i + 1, g.sharePoint(7, ns[i]));
        }
        int stranger = java.util.stream.IntStream.range(0, 20).filter(x -> x != 7 && !g.adjacent(7, x)).findFirst().orElseThrow();
        assertThrows(IllegalArgumentException.class, () -> g.sharePoint(7, stranger));
    }

    private static int reachable(NeighbourGraph g) {
        boolean[] seen = new boolean[g.agents()];
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        queue.add(0);
        seen[0] = true;
        int count = 1;
        while (!queue.isEmpty()) {
            for (int b : g.neighbours(queue.poll())) {
                if (!seen[b]) {
                    seen[b] = true;
                    count++;
                    queue.add(b);
                }
            }
        }
        return count;
    }
}
