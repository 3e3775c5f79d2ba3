package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.robust.MaskCheck;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Per-weight prune-vote counts of one FedPrLLM round (algorithms.md 1.4), folded one agent's masks at
 * a time so that no agent's masks are kept. Counts are bit-sliced ({@link BitSlicedVotes}): a fold is
 * a word-parallel add of the mask into the counters, and memory is 2.5 bytes per weight up to the vote
 * capacity (65535 votes by default), the same for 8 or 8000 agents.
 *
 * <p>A fold is all-or-nothing: the agent, every tensor's presence and length and, when configured, a
 * {@link MaskCheck} (target sparsity, N:M pattern) are checked before any count changes. All methods are thread-safe; folds are serialised.
 * Votes may be weighted (for example by the agent's calibration sample count); the "number of agents"
 * {@code m} of the selection and of weight scaling is then the total weight, {@link #totalWeight()}.
 */
public final class VoteAccumulator {
    /** Counts up to this value need no extra memory: 16 bit planes, as the spec's int16 suggestion. */
    public static final long DEFAULT_VOTE_CAPACITY = 65_535;
    private static final long MAX_TOTAL_WEIGHT = Integer.MAX_VALUE;

    private final Map<String, long[]> shapes;
    private final Map<String, BitSlicedVotes> votes = new LinkedHashMap<>();
    private final Map<String, Long> agentWeights = new LinkedHashMap<>();
    private final MaskCheck maskCheck;
    private long totalWeight;

    /** @param shapes the 2-D shape [rows, columns] of every tensor that is voted on */
    public VoteAccumulator(Map<String, long[]> shapes) {
        this(shapes, null, DEFAULT_VOTE_CAPACITY);
    }

    /**
     * @param maskCheck run on every contribution before it is folded, e.g. a
     *                  {@link dev.fedprune.aggregation.robust.SparsityCheck} or an
     *                  {@link dev.fedprune.aggregation.robust.NmPatternCheck}; null for none
     */
    public VoteAccumulator(Map<String, long[]> shapes, MaskCheck maskCheck) {
        this(shapes, maskCheck, DEFAULT_VOTE_CAPACITY);
    }

    /**
     * @param voteCapacity total vote weight the counters are preallocated for; beyond it they grow by
     *                     one bit plane (1 bit per weight) per doubling
     */
    public VoteAccumulator(Map<String, long[]> shapes, MaskCheck maskCheck, long voteCapacity) {
        if (voteCapacity < 1 || voteCapacity > MAX_TOTAL_WEIGHT) {
            throw new IllegalArgumentException("voteCapacity must be in [1, " + MAX_TOTAL_WEIGHT + "], got " + voteCapacity);
        }
        Map<String, long[]> copy = new LinkedHashMap<>();
        int planes = 64 - Long.numberOfLeadingZeros(voteCapacity);
        shapes.forEach((name, shape) -> {
            if (shape.length != 2 || shape[0] < 0 || shape[1] < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' must be 2-D to be voted on, got shape " + java.util.Arrays.toString(shape));
            }
            copy.put(name, shape.clone());
            votes.put(name, new BitSlicedVotes(Math.multiplyExact(shape[0], shape[1]), planes));
        });
        this.shapes = Collections.unmodifiableMap(copy);
        this.maskCheck = maskCheck;
    }

    public Map<String, long[]> shapes() {
        return shapes;
    }

    /** Folds one agent's masks with one vote each. */
    public void fold(String agentId, Map<String, BitMask> masks) {
        fold(agentId, masks, 1);
    }

    /**
     * Folds one agent's masks, each set bit adding {@code weight} votes (e.g. the agent's calibration
     * sample count). All-or-nothing: on {@link InvalidContributionException} nothing changed.
     */
    public void fold(String agentId, Map<String, BitMask> masks, long weight) {
        if (weight < 1) {
            throw new InvalidContributionException("weight", "vote weight of agent " + agentId + " must be at least 1, got " + weight);
        }
        validate(masks);
        synchronized (this) {
            if (agentWeights.containsKey(agentId)) {
                throw new InvalidContributionException("agent", "agent " + agentId + " already contributed to this round");
            }
            if (totalWeight + weight > MAX_TOTAL_WEIGHT) {
                throw new InvalidContributionException("weight", "total vote weight would exceed " + MAX_TOTAL_WEIGHT
                        + " (now " + totalWeight + ", adding " + weight + ")");
            }
            for (BitSlicedVotes v : votes.values()) {
                v.ensureCapacity(totalWeight + weight); // the only step that can fail (memory): before any count changes
            }
            for (Map.Entry<String, BitSlicedVotes> e : votes.entrySet()) {
                e.getValue().add(masks.get(e.getKey()).words(), weight);
            }
            agentWeights.put(agentId, weight);
            totalWeight += weight;
        }
    }

    /**
     * Folds vote counts that were summed elsewhere, one vote per voter: secure aggregation gives the
     * coordinator the count of each weight but never a voter's mask. Selection and weight scaling then
     * run exactly as on folded masks with the same counts. All-or-nothing; only into an empty accumulator.
     *
     * @param counts tensor name to the vote count of each weight, each in [0, voters]
     */
    public synchronized void foldCounts(java.util.Collection<String> voters, Map<String, int[]> counts) {
        if (!agentWeights.isEmpty()) {
            throw new IllegalStateException("vote counts go into an empty accumulator; " + agentWeights.size() + " agents already folded");
        }
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            int[] c = counts.get(e.getKey());
            long expected = e.getValue()[0] * e.getValue()[1];
            if (c == null || c.length != expected) {
                throw new InvalidContributionException("counts[" + e.getKey() + "]", (c == null ? "missing" : c.length + " counts")
                        + ", expected " + expected);
            }
            for (int i = 0; i < c.length; i++) {
                if (c[i] < 0 || c[i] > voters.size()) {
                    throw new InvalidContributionException("counts[" + e.getKey() + "]", "weight " + i + " has " + c[i]
                            + " votes, outside 0.." + voters.size() + " voters");
                }
            }
        }
        for (Map.Entry<String, BitSlicedVotes> e : votes.entrySet()) {
            e.getValue().addCounts(counts.get(e.getKey()), voters.size());
        }
        voters.forEach(v -> agentWeights.put(v, 1L));
        totalWeight = voters.size();
    }

    /**
     * Removes a folded agent's contribution again, given the same masks it folded (the trimmed vote's
     * second pass). All-or-nothing: rejected if the agent did not fold or if the masks set a bit where
     * the count is below the agent's weight (so they cannot be the masks it folded).
     */
    public synchronized void unfold(String agentId, Map<String, BitMask> masks) {
        Long weight = agentWeights.get(agentId);
        if (weight == null) {
            throw new InvalidContributionException("agent", "agent " + agentId + " has not contributed to this round");
        }
        validateShapes(masks);
        for (Map.Entry<String, BitSlicedVotes> e : votes.entrySet()) {
            if (!e.getValue().canSubtract(masks.get(e.getKey()).words(), weight)) {
                throw new InvalidContributionException("masks[" + e.getKey() + "]",
                        "mask of agent " + agentId + " sets bits with fewer than " + weight + " votes; not the mask it folded");
            }
        }
        for (Map.Entry<String, BitSlicedVotes> e : votes.entrySet()) {
            e.getValue().subtract(masks.get(e.getKey()).words(), weight);
        }
        agentWeights.remove(agentId);
        totalWeight -= weight;
    }

    /** Checks a contribution without folding it: tensors, lengths and the configured mask check. */
    public void validate(Map<String, BitMask> masks) {
        validateShapes(masks);
        if (maskCheck != null) {
            maskCheck.check(masks);
        }
    }

    private void validateShapes(Map<String, BitMask> masks) {
        for (String name : shapes.keySet()) {
            if (masks.get(name) == null) {
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
    }

    public synchronized int agentCount() {
        return agentWeights.size();
    }

    public synchronized Set<String> agents() {
        return Set.copyOf(agentWeights.keySet());
    }

    /** The vote weight each folded agent contributed, in fold order. */
    public synchronized Map<String, Long> agentWeights() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(agentWeights));
    }

    /** Sum of the folded agents' weights: {@code m} of algorithms.md 1.5 (the agent count when unweighted). */
    public synchronized long totalWeight() {
        return totalWeight;
    }

    /** Bytes held by the counters (for reports and the benchmark). */
    public synchronized long counterBytes() {
        long bytes = 0;
        for (BitSlicedVotes v : votes.values()) {
            bytes += v.bytes();
        }
        return bytes;
    }

    /** The vote counts of one tensor, decoded into a new array. */
    public synchronized int[] votes(String tensor) {
        return counts(tensor).decodeAll();
    }

    /**
     * The global prune mask of one tensor under the given selection. Layer and row selection run on the
     * bit-sliced counts directly (no extra memory but the result); N:M decodes one row at a time;
     * column streams the rows twice with one vote histogram per column.
     */
    public synchronized BitMask select(String tensor, SelectionSpec spec) {
        BitSlicedVotes counts = counts(tensor);
        long[] shape = shapes.get(tensor);
        int rows = Math.toIntExact(shape[0]);
        int cols = Math.toIntExact(shape[1]);
        long seed = tieSeed(spec, tensor);
        if (spec.isNm()) {
            MaskSelector.checkNm(cols, spec);
            MaskSelector.GroupSelector groups = new MaskSelector.GroupSelector(totalWeight);
            BitMask mask = new BitMask(counts.length());
            int[] row = new int[cols];
            int[] block = new int[spec.m()];
            for (int r = 0; r < rows; r++) {
                counts.decode((long) r * cols, cols, row, 0);
                for (int c = 0; c < cols; c += spec.m()) {
                    System.arraycopy(row, c, block, 0, spec.m());
                    groups.select(block, spec.m(), spec.n(), mask, (long) r * cols + c, 1, null);
                }
            }
            return mask;
        }
        return switch (spec.group()) {
            case LAYER -> counts.selectLayer((long) ((double) counts.length() * spec.sparsityRatio()), MaskSelector.random(spec, seed));
            case ROW -> counts.selectRows(cols, (int) ((double) cols * spec.sparsityRatio()));
            case COLUMN -> counts.selectColumns(rows, cols, (int) ((double) rows * spec.sparsityRatio()));
        };
    }

    /** The global prune masks of every tensor, in declaration order. */
    public synchronized Map<String, BitMask> selectAll(SelectionSpec spec) {
        Map<String, BitMask> out = new LinkedHashMap<>();
        for (String name : shapes.keySet()) {
            out.put(name, select(name, spec));
        }
        return out;
    }

    /**
     * Applies a selected mask to a tensor's dense weights: pruned weights become 0 and, with
     * {@code scale}, kept weights are multiplied by {@code (m - V) / m} (algorithms.md 1.5).
     */
    public synchronized float[] prune(String tensor, float[] weights, BitMask mask, boolean scale) {
        int[] v = scale ? votes(tensor) : null;
        return WeightPruning.prune(weights, mask, v, totalWeight, scale);
    }

    /**
     * {@link #prune(String, float[], BitMask, boolean)} for elements {@code [from, from + weights.length)}
     * of the tensor; only that slice's vote counts are decoded.
     */
    public synchronized float[] prune(String tensor, long from, float[] weights, BitMask mask, boolean scale) {
        int[] v = null;
        if (scale) {
            v = new int[weights.length];
            counts(tensor).decode(from, weights.length, v, 0);
        }
        return WeightPruning.prune(weights, mask, from, v, totalWeight, scale);
    }

    /** The seed of one tensor's random tie fill: the job's seed mixed with the tensor name. */
    static long tieSeed(SelectionSpec spec, String tensor) {
        return spec.seed() ^ (long) tensor.hashCode() * 0x9E3779B97F4A7C15L;
    }

    private BitSlicedVotes counts(String tensor) {
        BitSlicedVotes counts = votes.get(tensor);
        if (counts == null) {
            throw new IllegalArgumentException("unknown tensor '" + tensor + "'");
        }
        return counts;
    }
}
