package dev.fedprune.security.secagg;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * The SecAgg+ communication graph of one round: which agents mask with, and hold shares for, which.
 * A Harary graph H(d, n) (agents on a ring, each joined to the d/2 nearest on either side, plus the
 * opposite agent when d is odd and n even) whose ring positions are a seeded random permutation of the
 * agents, as in Bell et al. 2020. The graph is a pure function of (agents, degree, seed), so the
 * coordinator can publish the seed and every agent derives the same graph. Agents are roster indices
 * 0..n-1; with degree >= n-1 the graph is complete (plain Bonawitz et al.).
 */
public final class NeighbourGraph {
    private final int[][] neighbours;

    private NeighbourGraph(int[][] neighbours) {
        this.neighbours = neighbours;
    }

    public static NeighbourGraph harary(int agents, int degree, byte[] seed) {
        if (agents < 2) {
            throw new IllegalArgumentException("a round needs at least 2 agents, not " + agents);
        }
        if (degree < 1) {
            throw new IllegalArgumentException("degree must be at least 1, not " + degree);
        }
        int d = Math.min(degree, agents - 1);
        if (d % 2 == 1 && agents % 2 == 1 && d < agents - 1) {
            throw new IllegalArgumentException("no " + d + "-regular graph on " + agents + " agents: an odd degree needs an even agent count");
        }
        int[] ringToAgent = permutation(agents, seed);
        @SuppressWarnings("unchecked")
        TreeSet<Integer>[] sets = new TreeSet[agents];
        for (int i = 0; i < agents; i++) {
            sets[i] = new TreeSet<>();
        }
        for (int p = 0; p < agents; p++) {
            int a = ringToAgent[p];
            for (int j = 1; j <= d / 2; j++) {
                int b = ringToAgent[(p + j) % agents];
                sets[a].add(b);
                sets[b].add(a);
            }
            if (d % 2 == 1) {
                int b = ringToAgent[(p + agents / 2) % agents];
                sets[a].add(b);
                sets[b].add(a);
            }
        }
        int[][] lists = new int[agents][];
        for (int i = 0; i < agents; i++) {
            lists[i] = sets[i].stream().mapToInt(Integer::intValue).toArray();
        }
        return new NeighbourGraph(lists);
    }

    /**
     * SecAgg+'s degree is O(log n); this picks 2*ceil(log2 n), rounded up to even and capped at n-1,
     * which keeps a neighbourhood's threshold meaningful at a few percent dropouts.
     */
    public static int recommendedDegree(int agents) {
        int log = 32 - Integer.numberOfLeadingZeros(Math.max(1, agents - 1));
        return Math.min(agents - 1, 2 * log);
    }

    public int agents() {
        return neighbours.length;
    }

    /** Neighbours of an agent in ascending order; an agent's share for neighbour {@code neighbours(a)[i]} is at point x = i+1. */
    public int[] neighbours(int agent) {
        return neighbours[agent].clone();
    }

    public boolean adjacent(int a, int b) {
        return Arrays.binarySearch(neighbours[a], b) >= 0;
    }

    /** The Shamir point (1-based) at which {@code owner} evaluates the share it gives {@code holder}. */
    public int sharePoint(int owner, int holder) {
        int i = Arrays.binarySearch(neighbours[owner], holder);
        if (i < 0) {
            throw new IllegalArgumentException("agent " + holder + " is not a neighbour of agent " + owner);
        }
        return i + 1;
    }

    /** Fisher-Yates driven by the AES-CTR stream of the seed, unbiased by rejection sampling. */
    private static int[] permutation(int n, byte[] seed) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        SeededStream stream = new SeededStream(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = stream.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }
}
