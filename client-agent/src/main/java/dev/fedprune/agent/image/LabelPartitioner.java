package dev.fedprune.agent.image;

import dev.fedprune.aggregation.sparsetrain.DirichletSampler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Splits a labelled dataset between agents, deterministically from a seed: IID (a seeded shuffle dealt
 * round-robin) or the label-skewed Dirichlet split of federated-learning papers (for every class, the
 * agents' shares are drawn from Dirichlet(alpha) and the class's samples dealt in those proportions;
 * redrawn until every agent holds at least {@code minSamples}). Each agent's sample indices come back
 * ascending; every sample goes to exactly one agent.
 */
public final class LabelPartitioner {
    /** How many Dirichlet draws are tried before giving up on the minimum per agent. */
    public static final int MAX_DRAWS = 1000;

    private LabelPartitioner() {
    }

    public static List<int[]> iid(int sampleCount, int agents, int minSamples, long seed) {
        check(sampleCount, agents, minSamples);
        int[] order = shuffledRange(sampleCount, new SplittableRandom(seed));
        int[] sizes = new int[agents];
        for (int i = 0; i < sampleCount; i++) {
            sizes[i % agents]++;
        }
        int[][] parts = new int[agents][];
        for (int a = 0; a < agents; a++) {
            parts[a] = new int[sizes[a]];
        }
        for (int i = 0; i < sampleCount; i++) {
            parts[i % agents][i / agents] = order[i];
        }
        List<int[]> out = new ArrayList<>();
        for (int[] p : parts) {
            Arrays.sort(p);
            out.add(p);
        }
        return out;
    }

    /**
     * @param labels     class of every sample, in {@code [0, classCount)}
     * @param alpha      Dirichlet concentration; smaller is more skewed (FedTiny uses 0.5)
     * @param minSamples every agent gets at least this many samples (the reference uses 10)
     */
    public static List<int[]> dirichlet(int[] labels, int classCount, int agents, double alpha, int minSamples, long seed) {
        check(labels.length, agents, minSamples);
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("alpha must be finite and > 0, got " + alpha);
        }
        if (classCount < 1) {
            throw new IllegalArgumentException("classCount must be >= 1, got " + classCount);
        }
        int[] perClass = new int[classCount];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classCount) {
                throw new IllegalArgumentException("labels[" + i + "] = " + labels[i] + " is not a class in [0, " + classCount + ")");
            }
            perClass[labels[i]]++;
        }
        int[][] byClass = new int[classCount][];
        for (int c = 0; c < classCount; c++) {
            byClass[c] = new int[perClass[c]];
        }
        int[] fill = new int[classCount];
        for (int i = 0; i < labels.length; i++) {
            byClass[labels[i]][fill[labels[i]]++] = i;
        }
        DirichletSampler sampler = new DirichletSampler(seed);
        int[] owner = new int[labels.length];
        int[] sizes = new int[agents];
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            Arrays.fill(sizes, 0);
            for (int c = 0; c < classCount; c++) {
                int[] samples = byClass[c].clone();
                shuffle(samples, sampler.random());
                double[] share = sampler.next(alpha, agents);
                int start = 0;
                double cumulative = 0;
                for (int a = 0; a < agents; a++) {
                    cumulative += share[a];
                    int end = a == agents - 1 ? samples.length : Math.max(start, Math.min(samples.length, (int) Math.round(cumulative * samples.length)));
                    for (int j = start; j < end; j++) {
                        owner[samples[j]] = a;
                    }
                    sizes[a] += end - start;
                    start = end;
                }
            }
            if (Arrays.stream(sizes).min().orElse(0) >= minSamples) {
                return collect(owner, sizes);
            }
        }
        throw new IllegalArgumentException("no Dirichlet(" + alpha + ") split of " + labels.length + " samples gives each of " + agents
                + " agents at least " + minSamples + " samples after " + MAX_DRAWS + " draws; raise alpha or lower agents or minSamples");
    }

    private static List<int[]> collect(int[] owner, int[] sizes) {
        int[][] parts = new int[sizes.length][];
        for (int a = 0; a < sizes.length; a++) {
            parts[a] = new int[sizes[a]];
        }
        int[] fill = new int[sizes.length];
        for (int i = 0; i < owner.length; i++) {
            parts[owner[i]][fill[owner[i]]++] = i; // ascending by construction
        }
        return List.of(parts);
    }

    private static void check(int sampleCount, int agents, int minSamples) {
        if (agents < 1) {
            throw new IllegalArgumentException("agents must be >= 1, got " + agents);
        }
        if (minSamples < 0) {
            throw new IllegalArgumentException("minSamples must be >= 0, got " + minSamples);
        }
        if ((long) agents * minSamples > sampleCount) {
            throw new IllegalArgumentException(sampleCount + " samples cannot give " + agents + " agents at least " + minSamples + " each");
        }
    }

    private static int[] shuffledRange(int n, SplittableRandom random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        shuffle(order, random);
        return order;
    }

    private static void shuffle(int[] values, SplittableRandom random) {
        for (int i = values.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = values[i];
            values[i] = values[j];
            values[j] = t;
        }
    }
}
