package dev.fedprune.aggregation.bench;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.EncodedMask;
import dev.fedprune.aggregation.format.MaskCodec;
import dev.fedprune.aggregation.format.MaskEncoding;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Benchmark of FedPrLLM vote aggregation: folds {@code agents} random masks into a
 * {@link VoteAccumulator} and selects the layer-group mask of every tensor, next to a naive
 * implementation (int counters incremented per set bit, then a full sort of each tensor) in the same
 * run; also measures bytes on the wire per agent for 50/70/90% sparsity masks against the entropy
 * bound. Masks are generated outside the timed sections, into one reused buffer, the way the
 * coordinator decodes one contribution at a time. Prints one JSON line.
 */
public final class AggregationBench {
    private static final long LLAMA_HIDDEN = 4096;
    private static final long LLAMA_INTERMEDIATE = 11008;

    private AggregationBench() {
    }

    public static void main(String[] args) {
        int agents = 64;
        long weights = 0;
        double sparsity = 0.5;
        long seed = 0;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--agents" -> agents = Integer.parseInt(require(args[i], value));
                case "--weights" -> weights = Long.parseLong(require(args[i], value));
                case "--sparsity" -> sparsity = Double.parseDouble(require(args[i], value));
                case "--seed" -> seed = Long.parseLong(require(args[i], value));
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + "; usage: AggregationBench [--agents N] [--weights W (0 = one LLaMA-7B decoder layer)] [--sparsity S] [--seed X]");
            }
            i++;
        }
        System.out.println(run(agents, weights, sparsity, seed));
    }

    private static String require(String option, String value) {
        if (value == null) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return value;
    }

    /**
     * @param weights 0 for the seven linear tensors of one LLaMA-7B decoder layer (202,383,360 weights),
     *                otherwise a layer of the same proportions totalling about this many weights
     * @return one JSON line: timings, throughput, peak heap, the baseline's, and wire sizes
     */
    public static String run(int agents, long weights, double sparsity, long seed) {
        if (agents < 1) {
            throw new IllegalArgumentException("agents must be at least 1, got " + agents);
        }
        Map<String, long[]> shapes = layerShapes(weights);
        long total = shapes.values().stream().mapToLong(s -> s[0] * s[1]).sum();
        SelectionSpec spec = SelectionSpec.unstructured(ComparisonGroup.LAYER, sparsity, seed);

        warmUp(sparsity, seed);

        // --- bit-sliced accumulator ---
        resetPeak();
        long fold = 0;
        long foldCpu = 0;
        Map<String, BitMask> buffer = newMasks(shapes);
        VoteAccumulator accumulator = new VoteAccumulator(shapes);
        SplittableRandom random = new SplittableRandom(seed);
        for (int a = 0; a < agents; a++) {
            fillRandom(buffer, sparsity, random);
            long c0 = cpuNanos();
            long t0 = System.nanoTime();
            accumulator.fold("agent-" + a, buffer);
            fold += System.nanoTime() - t0;
            foldCpu += cpuNanos() - c0;
        }
        long c0 = cpuNanos();
        long t0 = System.nanoTime();
        Map<String, BitMask> selected = accumulator.selectAll(spec);
        long select = System.nanoTime() - t0;
        long selectCpu = cpuNanos() - c0;
        long prunedCount = selected.values().stream().mapToLong(BitMask::cardinality).sum();
        double peakMb = peakHeapMb();
        long counterBytes = accumulator.counterBytes();
        // Untimed: the deterministic-tie selection, to check the baseline against.
        Map<String, BitMask> lowest = accumulator.selectAll(new SelectionSpec(ComparisonGroup.LAYER, sparsity, 0, 0, TieBreak.LOWEST_INDEX, seed));
        selected = null;
        accumulator = null;

        // --- naive baseline: int counters, per-bit fold, full sort per tensor ---
        resetPeak();
        Map<String, int[]> counts = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            counts.put(e.getKey(), new int[Math.toIntExact(e.getValue()[0] * e.getValue()[1])]);
        }
        long baselineFold = 0;
        long baselineCpu = 0;
        random = new SplittableRandom(seed);
        for (int a = 0; a < agents; a++) {
            fillRandom(buffer, sparsity, random);
            long c1 = cpuNanos();
            long t1 = System.nanoTime();
            for (Map.Entry<String, BitMask> e : buffer.entrySet()) {
                naiveFold(counts.get(e.getKey()), e.getValue());
            }
            baselineFold += System.nanoTime() - t1;
            baselineCpu += cpuNanos() - c1;
        }
        long c2 = cpuNanos();
        long t2 = System.nanoTime();
        boolean agrees = true;
        for (Map.Entry<String, int[]> e : counts.entrySet()) {
            BitMask mask = sortSelect(e.getValue(), sparsity, agents);
            agrees &= mask.equals(lowest.get(e.getKey()));
        }
        long baselineSelect = System.nanoTime() - t2;
        baselineCpu += cpuNanos() - c2;
        double baselinePeakMb = peakHeapMb();

        double foldSeconds = fold / 1e9;
        double seconds = (fold + select) / 1e9;
        double baselineSeconds = (baselineFold + baselineSelect) / 1e9;
        double maskBytes = (double) agents * total / 8;
        counts = null;
        lowest = null;
        buffer = null;
        System.gc(); // the wire measurement should not pay for the baseline's garbage
        String wire = wire(shapes, seed);
        return String.format(Locale.ROOT,
                "{\"bench\":\"aggregation\",\"agents\":%d,\"weights\":%d,\"tensors\":%d,\"sparsity\":%s,\"group\":\"layer\",\"seed\":%d,"
                        + "\"seconds\":%.4f,\"fold_seconds\":%.4f,\"select_seconds\":%.4f,\"mask_gb_per_s\":%.3f,\"mask_gb_per_s_with_select\":%.3f,"
                        + "\"weight_votes_per_s\":%.4g,\"pruned\":%d,"
                        + "\"baseline_seconds\":%.4f,\"baseline_fold_seconds\":%.4f,\"baseline_select_seconds\":%.4f,\"speedup\":%.2f,"
                        + "\"baseline_agrees_lowest_index\":%s,\"peak_heap_mb\":%.1f,\"counter_mb\":%.1f,\"baseline_peak_heap_mb\":%.1f,"
                        + "\"cpu_seconds\":%.4f,\"fold_cpu_seconds\":%.4f,\"mask_gb_per_s_cpu\":%.3f,\"baseline_cpu_seconds\":%.4f,\"speedup_cpu\":%.2f,"
                        + "\"load_average\":%.2f,\"cores\":%d,\"java\":\"%s\",\"wire\":%s}",
                agents, total, shapes.size(), sparsity, seed,
                seconds, foldSeconds, select / 1e9, maskBytes / foldSeconds / 1e9, maskBytes / seconds / 1e9,
                agents * (double) total / foldSeconds, prunedCount,
                baselineSeconds, baselineFold / 1e9, baselineSelect / 1e9, baselineSeconds / seconds,
                agrees, peakMb, counterBytes / 1048576.0, baselinePeakMb,
                (foldCpu + selectCpu) / 1e9, foldCpu / 1e9, maskBytes / (foldCpu / 1e9) / 1e9, baselineCpu / 1e9,
                (double) baselineCpu / (foldCpu + selectCpu),
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(), Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), wire);
    }

    /**
     * Bytes on the wire per agent for random (i.i.d.) masks at 50%, 70% and 90% sparsity over the given
     * tensors, with the codec's automatic choice, against the bit-packed size and the entropy bound.
     */
    public static String wire(Map<String, long[]> shapes, long seed) {
        List<String> rows = new ArrayList<>();
        Map<String, BitMask> buffer = newMasks(shapes);
        for (double s : new double[] {0.5, 0.7, 0.9}) {
            fillRandom(buffer, s, new SplittableRandom(seed + 17));
            long bytes = 0;
            long packed = 0;
            double bound = 0;
            long weights = 0;
            long encodeNanos = 0;
            long decodeNanos = 0;
            boolean roundTrip = true;
            Map<MaskEncoding, Integer> encodings = new LinkedHashMap<>();
            for (BitMask mask : buffer.values()) {
                long t0 = System.nanoTime();
                EncodedMask encoded = MaskCodec.encode(mask);
                long t1 = System.nanoTime();
                BitMask decoded = MaskCodec.decode(encoded);
                decodeNanos += System.nanoTime() - t1;
                encodeNanos += t1 - t0;
                roundTrip &= decoded.equals(mask);
                bytes += encoded.sizeBytes();
                packed += (mask.length() + 7) / 8;
                bound += MaskCodec.entropyBoundBytes(mask.length(), mask.cardinality());
                weights += mask.length();
                encodings.merge(encoded.encoding(), 1, Integer::sum);
            }
            rows.add(String.format(Locale.ROOT,
                    "{\"sparsity\":%s,\"encodings\":\"%s\",\"bytes\":%d,\"bits_per_weight\":%.4f,\"bitpacked_bytes\":%d,"
                            + "\"entropy_bound_bytes\":%.0f,\"over_bound\":%.4f,\"encode_seconds\":%.3f,\"decode_seconds\":%.3f,\"round_trip\":%s}",
                    s, encodings.toString().replace(" ", ""), bytes, bytes * 8.0 / weights, packed, bound, bytes / bound,
                    encodeNanos / 1e9, decodeNanos / 1e9, roundTrip));
        }
        return "[" + String.join(",", rows) + "]";
    }

    /** The seven linear tensors of a LLaMA decoder layer: 7B's when {@code weights} is 0, else scaled. */
    public static Map<String, long[]> layerShapes(long weights) {
        long hidden = LLAMA_HIDDEN;
        long intermediate = LLAMA_INTERMEDIATE;
        if (weights > 0) {
            double ratio = (double) LLAMA_INTERMEDIATE / LLAMA_HIDDEN;
            double h = Math.sqrt(weights / (4 + 3 * ratio));
            hidden = Math.max(64, Math.round(h / 64) * 64);
            intermediate = Math.max(64, Math.round(hidden * ratio / 64) * 64);
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String p : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"}) {
            shapes.put("model.layers.0." + p + ".weight", new long[] {hidden, hidden});
        }
        shapes.put("model.layers.0.mlp.gate_proj.weight", new long[] {intermediate, hidden});
        shapes.put("model.layers.0.mlp.up_proj.weight", new long[] {intermediate, hidden});
        shapes.put("model.layers.0.mlp.down_proj.weight", new long[] {hidden, intermediate});
        return shapes;
    }

    private static void warmUp(double sparsity, long seed) {
        Map<String, long[]> small = Map.of("w", new long[] {256, 4096});
        for (int round = 0; round < 3; round++) {
            VoteAccumulator acc = new VoteAccumulator(small);
            Map<String, BitMask> masks = newMasks(small);
            SplittableRandom random = new SplittableRandom(seed);
            int[] counts = new int[256 * 4096];
            for (int a = 0; a < 20; a++) {
                fillRandom(masks, sparsity, random);
                acc.fold("w" + a, masks);
                naiveFold(counts, masks.get("w"));
            }
            acc.select("w", SelectionSpec.unstructured(ComparisonGroup.LAYER, sparsity, seed));
            sortSelect(counts, sparsity, 20);
            MaskCodec.decode(MaskCodec.encode(masks.get("w"), MaskEncoding.ENTROPY));
        }
    }

    private static Map<String, BitMask> newMasks(Map<String, long[]> shapes) {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> masks.put(name, new BitMask(shape[0] * shape[1])));
        return masks;
    }

    /** Fills masks in place with i.i.d. bits set with probability {@code p} (to 1/256), 8 random words per word. */
    static void fillRandom(Map<String, BitMask> masks, double p, SplittableRandom random) {
        int level = (int) Math.round(p * 256);
        for (BitMask mask : masks.values()) {
            long[] words = mask.words();
            for (int w = 0; w < words.length; w++) {
                long x = 0;
                for (int bit = 0; bit < 8; bit++) { // binary expansion of level/256, least significant digit first
                    long r = random.nextLong();
                    x = (level >>> bit & 1) != 0 ? x | r : x & r;
                }
                words[w] = x;
            }
            long tail = mask.length() & 63;
            if (tail != 0) {
                words[words.length - 1] &= -1L >>> (64 - tail);
            }
        }
    }

    /** The baseline fold: one counter increment per set bit. */
    static void naiveFold(int[] counts, BitMask mask) {
        long[] words = mask.words();
        for (int w = 0; w < words.length; w++) {
            long bits = words[w];
            while (bits != 0) {
                counts[(w << 6) + Long.numberOfTrailingZeros(bits)]++;
                bits &= bits - 1;
            }
        }
    }

    /** The baseline selection: sort all (votes descending, index ascending) keys and take the first k. */
    static BitMask sortSelect(int[] counts, double sparsity, int maxVote) {
        long[] keys = new long[counts.length];
        for (int i = 0; i < counts.length; i++) {
            keys[i] = ((long) (maxVote - counts[i]) << 32) | i;
        }
        Arrays.sort(keys);
        int k = (int) ((double) counts.length * sparsity);
        BitMask mask = new BitMask(counts.length);
        for (int i = 0; i < k; i++) {
            mask.set(keys[i] & 0xFFFF_FFFFL);
        }
        return mask;
    }

    /** CPU time of this thread: unlike wall time, not inflated when a shared machine deschedules it. */
    private static long cpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private static void resetPeak() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    /** Sum over the heap pools of their peak use since the last reset, in MiB. */
    private static double peakHeapMb() {
        long bytes = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                bytes += pool.getPeakUsage().getUsed();
            }
        }
        return bytes / 1048576.0;
    }
}
