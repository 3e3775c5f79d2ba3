package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Per-weight prune-vote counts of one FedPrLLM round, folded one agent's masks at a time so that no
 * agent's masks are kept. A fold is all-or-nothing: every tensor of the contribution is checked before
 * any count changes.
 */
public final class VoteAccumulator {
    private final Map<String, long[]> shapes;
    private final Map<String, int[]> votes = new LinkedHashMap<>();
    private final Set<String> agents = new LinkedHashSet<>();

    /** @param shapes the 2-D shape [rows, columns] of every tensor that is voted on */
    public VoteAccumulator(Map<String, long[]> shapes) {
        this.shapes = Collections.unmodifiableMap(new LinkedHashMap<>(shapes));
        this.shapes.forEach((name, shape) -> {
            if (shape.length != 2) {
                throw new IllegalArgumentException("tensor '" + name + "' must be 2-D to be voted on");
            }
            votes.put(name, new int[Math.toIntExact(shape[0] * shape[1])]);
        });
    }

    public Map<String, long[]> shapes() {
        return shapes;
    }

    public synchronized void fold(String agentId, Map<String, BitMask> masks) {
        if (agents.contains(agentId)) {
            throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
        }
        for (String name : shapes.keySet()) {
            if (!masks.containsKey(name)) {
                throw new InvalidContributionException("masks", "missing mask for tensor '" + name + "'");
            }
        }
        for (Map.Entry<String, BitMask> e : masks.entrySet()) {
            long[] shape = shapes.get(e.getKey());
            if (shape == null) {
                throw new InvalidContributionException("masks", "unknown tensor '" + e.getKey() + "'");
            }
            long expected = shape[0] * shape[1];
            if (e.getValue().length() != expected) {
                throw new InvalidContributionException("masks[" + e.getKey() + "]",
                        "mask has " + e.getValue().length() + " bits, expected " + expected + " (" + shape[0] + "x" + shape[1] + ")");
            }
        }
        for (Map.Entry<String, BitMask> e : masks.entrySet()) {
            int[] counts = votes.get(e.getKey());
            long[] words = e.getValue().words();
            for (int w = 0; w < words.length; w++) {
                long bits = words[w];
                while (bits != 0) {
                    counts[(w << 6) + Long.numberOfTrailingZeros(bits)]++;
                    bits &= bits - 1;
                }
            }
        }
        agents.add(agentId);
    }

    public synchronized int agentCount() {
        return agents.size();
    }

    public synchronized Set<String> agents() {
        return Set.copyOf(agents);
    }

    /** The vote counts of one tensor (a copy). */
    public synchronized int[] votes(String tensor) {
        int[] counts = votes.get(tensor);
        if (counts == null) {
            throw new IllegalArgumentException("unknown tensor '" + tensor + "'");
        }
        return counts.clone();
    }

    /** The global prune mask of one tensor under the given selection. */
    public synchronized BitMask select(String tensor, SelectionSpec spec) {
        long[] shape = shapes.get(tensor);
        if (shape == null) {
            throw new IllegalArgumentException("unknown tensor '" + tensor + "'");
        }
        return MaskSelector.select(votes.get(tensor), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]), agents.size(), spec,
                spec.seed() ^ (long) tensor.hashCode() * 0x9E3779B97F4A7C15L);
    }
}
