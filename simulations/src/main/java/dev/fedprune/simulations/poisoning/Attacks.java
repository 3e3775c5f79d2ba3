package dev.fedprune.simulations.poisoning;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.SparseTensorWire;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What a malicious agent does to the contribution its honest code computed, one pure function per
 * attack. The result is well formed (same tensors, indices and sparsity), so the coordinator's checks
 * let it through and only the aggregation can defend against it.
 */
public final class Attacks {
    private Attacks() {
    }

    /**
     * Scales the agent's update, its sent weights minus the global model it started from, by
     * {@code factor}: {@code g + factor · (w − g)} at every value it sends (a negative factor flips the sign).
     *
     * @param global the global model of the task (the weights artifact), every tensor in full or sparse
     */
    public static Contribution scaleUpdate(Contribution honest, SparseUpdate global, double factor) {
        Map<String, float[]> start = new LinkedHashMap<>();
        for (dev.fedprune.proto.v1.SparseTensor t : global.getTensorsList()) {
            start.put(t.getTensorName(), SparseTensorWire.decode("global", t, size(t)).toDense());
        }
        SparseUpdate.Builder out = SparseUpdate.newBuilder();
        for (dev.fedprune.proto.v1.SparseTensor wire : honest.getSparseUpdate().getTensorsList()) {
            SparseTensor sent = SparseTensorWire.decode("sparse_update", wire, size(wire));
            float[] g = start.get(wire.getTensorName());
            int[] indices = sent.indices();
            float[] values = sent.values().clone();
            for (int i = 0; i < indices.length; i++) {
                float reference = g == null ? 0f : g[indices[i]];
                values[i] = (float) (reference + factor * ((double) values[i] - reference));
            }
            out.addTensors(SparseTensorWire.encode(wire.getTensorName(), new SparseTensor(sent.size(), indices, values)));
        }
        return honest.toBuilder().setSparseUpdate(out).build();
    }

    /**
     * Votes to prune what the agent's own pruner would keep: every mask is inverted, then, when the target
     * sparsity is not one half, brought back to the same number of pruned weights per tensor (seeded
     * choice among the weights the honest mask pruned, or among those it kept), so the sparsity check passes.
     */
    public static Contribution invertMasks(Contribution honest, long seed) {
        Map<String, BitMask> masks = MaskWire.decode("masks", honest.getMasks());
        Map<String, BitMask> inverted = new LinkedHashMap<>();
        SplittableRandom random = new SplittableRandom(seed);
        masks.forEach((name, mask) -> inverted.put(name, invert(mask, random)));
        return honest.toBuilder().setMasks(MaskWire.encode(inverted)).build();
    }

    /** The agent claims {@code factor} times the samples it has (at least one more). */
    public static Contribution inflateSamples(Contribution honest, double factor) {
        long claimed = Math.max(honest.getSampleCount() + 1, (long) Math.ceil(honest.getSampleCount() * factor));
        return honest.toBuilder().setSampleCount(claimed).build();
    }

    /** The complement of {@code mask} with as many set bits as {@code mask}. */
    static BitMask invert(BitMask mask, SplittableRandom random) {
        long n = mask.length();
        long pruned = mask.cardinality();
        long kept = n - pruned;
        BitMask out = new BitMask(n);
        // Prune the honest mask's kept weights first: all of them if the target allows, else a seeded subset.
        long[] keptIdx = indices(mask, false, kept);
        long[] prunedIdx = indices(mask, true, pruned);
        shuffle(keptIdx, random);
        shuffle(prunedIdx, random);
        long fromKept = Math.min(pruned, kept);
        for (int i = 0; i < fromKept; i++) {
            out.set(keptIdx[i]);
        }
        for (int i = 0; i < pruned - fromKept; i++) {
            out.set(prunedIdx[i]);
        }
        return out;
    }

    private static long[] indices(BitMask mask, boolean set, long count) {
        long[] out = new long[Math.toIntExact(count)];
        int j = 0;
        for (long i = 0; i < mask.length(); i++) {
            if (mask.get(i) == set) {
                out[j++] = i;
            }
        }
        return out;
    }

    private static void shuffle(long[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static long size(dev.fedprune.proto.v1.SparseTensor t) {
        long size = 1;
        for (long d : t.getShapeList()) {
            size *= d;
        }
        return size;
    }
}
