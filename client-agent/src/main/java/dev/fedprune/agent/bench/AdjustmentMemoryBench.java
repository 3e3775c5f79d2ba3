package dev.fedprune.agent.bench;

import ai.djl.Device;
import dev.fedprune.agent.cnn.CnnArchitecture;
import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.AdjustmentSchedule;
import dev.fedprune.aggregation.sparsetrain.BlockOrder;
import dev.fedprune.aggregation.sparsetrain.BlockPartition;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.aggregation.sparsetrain.TopKGradientBuffer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Heap an agent holds in a FedTiny adjustment round (algorithms.md 3.4 B3), measured rather than
 * computed: for every block of the partition, the top-K gradient buffers of its layers and the sparse
 * tensors uploaded from them against the dense gradient of the same layers, each as the change of the
 * used heap after full collections with the objects held, and as the bytes the measuring thread
 * allocated to build them ({@code ThreadMXBean}). The gradients are real: the agent's
 * {@link MaskedCnn#topKInactiveGradients} on one Fashion-MNIST batch. The agent's own call is measured
 * too: bytes it allocates on the heap (transient copies included) and the peak of native memory in use
 * (glibc {@code mallinfo2}, sampled) while PyTorch back-propagates. Run with {@code -XX:+UseSerialGC} so
 * that a collection compacts the whole heap and the used size is exact.
 */
@Command(name = "adjust-memory", mixinStandardHelpOptions = true,
        description = "Measured heap of top-K gradient buffers vs a dense gradient of the same block, per block.")
final class AdjustmentMemoryBench implements Callable<Integer> {
    @Option(names = "--arch", defaultValue = "small-vgg", description = "small-vgg or resnet18") String arch;
    @Option(names = "--data", description = "directory of the Fashion-MNIST IDX files") Path data = FashionMnist.DEBIAN_DIRECTORY;
    @Option(names = "--density", defaultValue = "0.1") double density;
    @Option(names = "--blocks", defaultValue = "4", description = "J, contiguous blocks of balanced weight count") int blockCount;
    @Option(names = "--alpha", defaultValue = "0.2") double alpha;
    @Option(names = "--round", defaultValue = "10", description = "adjustment round t: k_l = min(floor(f_decay(t)·|active_l|), |inactive_l|)") int round;
    @Option(names = "--t-end", defaultValue = "100") int tEnd;
    @Option(names = "--batch", defaultValue = "64") int batch;
    @Option(names = "--repeat", defaultValue = "3", description = "heap measurements per quantity; the median is printed") int repeat;
    @Option(names = "--seed", defaultValue = "0") long seed;

    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    private final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Override
    public Integer call() throws IOException, InterruptedException {
        LabeledImages train = FashionMnist.load(data, FashionMnist.Split.TRAIN);
        int[] first = new int[batch];
        for (int i = 0; i < batch; i++) {
            first[i] = i;
        }
        LabeledImages.Batch b = train.batch(first, 0, batch);
        CnnArchitecture architecture = CnnArchitecture.parse(arch);
        try (MaskedCnn cnn = architecture.create(1, FashionMnist.SIDE, FashionMnist.CLASSES, seed, Device.cpu())) {
            CnnBench.applyErkMasks(cnn, density);
            List<LayerShape> layers = cnn.sparseLayers();
            List<List<Integer>> blocks = BlockPartition.balanced(layers, blockCount);
            double decay = new AdjustmentSchedule(alpha, 10, tEnd, blockCount, BlockOrder.OUTPUT_TO_INPUT).decay(round);
            long total = layers.stream().mapToLong(LayerShape::weightCount).sum();
            System.out.printf(Locale.ROOT, "{\"arch\": \"%s\", \"sparse_weights\": %d, \"density\": %s, \"blocks\": %d, \"round\": %d,"
                            + " \"f_decay\": %.5f, \"batch\": %d, \"gc\": \"%s\"}%n", architecture, total, density, blocks.size(), round, decay, batch,
                    ManagementFactory.getGarbageCollectorMXBeans().get(0).getName());
            // Warm-up: loads the classes and JIT-compiles the paths measured below.
            measureBlock(cnn, layers, blocks.get(blocks.size() - 1), decay, b, false);
            for (int j = blocks.size() - 1; j >= 0; j--) { // output block first, as the schedule visits them
                measureBlock(cnn, layers, blocks.get(j), decay, b, true).print(j);
            }
        }
        return 0;
    }

    private BlockMemory measureBlock(MaskedCnn cnn, List<LayerShape> layers, List<Integer> block, double decay, LabeledImages.Batch b, boolean print)
            throws InterruptedException {
        Map<String, Integer> topK = new LinkedHashMap<>();
        Map<String, Integer> allInactive = new LinkedHashMap<>();
        Map<String, BitMask> keep = new LinkedHashMap<>();
        long weights = 0;
        for (int i : block) {
            String name = layers.get(i).name();
            BitMask mask = cnn.keepMask(name);
            int active = (int) mask.cardinality();
            int inactive = layers.get(i).weightCount() - active;
            topK.put(name, (int) Math.min((long) Math.floor(decay * active), inactive));
            allInactive.put(name, inactive);
            keep.put(name, mask);
            weights += layers.get(i).weightCount();
        }

        // The agent's own call: heap allocated by it and native memory in use while PyTorch back-propagates.
        long nativeBefore = NativeHeap.inUseBytes();
        NativeHeap.PeakSampler sampler = NativeHeap.PeakSampler.start();
        long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
        Map<String, SparseTensor> agentResult = cnn.topKInactiveGradients(b.pixels(), b.labels(), topK);
        long agentAllocated = threads.getCurrentThreadAllocatedBytes() - allocatedBefore;
        long nativePeak = sampler.stop() - nativeBefore;
        Reference.reachabilityFence(agentResult);

        // The real gradient of the block at every inactive position, as dense arrays (active positions 0).
        Map<String, SparseTensor> full = cnn.topKInactiveGradients(b.pixels(), b.labels(), allInactive);
        Measured dense = measure(() -> {
            List<float[]> out = new ArrayList<>();
            full.values().forEach(t -> out.add(t.toDense()));
            return out;
        });
        List<float[]> denseGradients = new ArrayList<>();
        full.values().forEach(t -> denseGradients.add(t.toDense()));
        Measured buffers = measure(() -> fill(topK, keep, denseGradients));
        List<TopKGradientBuffer> filled = fill(topK, keep, denseGradients);
        List<String> names = new ArrayList<>(topK.keySet());
        Measured upload = measure(() -> {
            List<SparseTensor> out = new ArrayList<>();
            for (int l = 0; l < filled.size(); l++) {
                out.add(filled.get(l).toSparseTensor(denseGradients.get(l).length));
            }
            return out;
        });
        for (int l = 0; l < filled.size(); l++) { // the stand-alone buffers select what the agent selected
            if (!filled.get(l).toSparseTensor(denseGradients.get(l).length).equals(agentResult.get(names.get(l)))) {
                throw new IllegalStateException("top-K of layer " + names.get(l) + " differs from the agent's selection");
            }
        }
        int k = topK.values().stream().mapToInt(Integer::intValue).sum();
        return new BlockMemory(names, weights, k, dense, buffers, upload, agentAllocated, nativePeak, print);
    }

    private static List<TopKGradientBuffer> fill(Map<String, Integer> topK, Map<String, BitMask> keep, List<float[]> gradients) {
        List<TopKGradientBuffer> out = new ArrayList<>();
        int l = 0;
        for (Map.Entry<String, Integer> e : topK.entrySet()) {
            TopKGradientBuffer buffer = new TopKGradientBuffer(e.getValue());
            float[] g = gradients.get(l++);
            BitMask mask = keep.get(e.getKey());
            for (int i = 0; i < g.length; i++) {
                if (!mask.get(i)) {
                    buffer.offer(i, g[i]);
                }
            }
            out.add(buffer);
        }
        return out;
    }

    /**
     * Heap retained by one result of {@code make} and bytes allocated making it. Small results are made
     * and held many times at once (enough copies for about 64 MiB) and the heap change is divided by the
     * number of copies, so that the collector's noise of a few kilobytes does not swamp them.
     */
    private Measured measure(Supplier<Object> make) {
        long start = threads.getCurrentThreadAllocatedBytes();
        Reference.reachabilityFence(make.get());
        long one = Math.max(1, threads.getCurrentThreadAllocatedBytes() - start);
        int copies = (int) Math.max(1, Math.min(100_000, (64L << 20) / one));
        long[] retained = new long[repeat];
        long[] allocated = new long[repeat];
        for (int r = 0; r < repeat; r++) {
            Object[] held = new Object[copies];
            long before = usedHeapAfterGc();
            start = threads.getCurrentThreadAllocatedBytes();
            for (int c = 0; c < copies; c++) {
                held[c] = make.get();
            }
            allocated[r] = threads.getCurrentThreadAllocatedBytes() - start;
            retained[r] = usedHeapAfterGc() - before;
            Reference.reachabilityFence(held);
        }
        java.util.Arrays.sort(retained);
        java.util.Arrays.sort(allocated);
        return new Measured(Math.round((double) retained[repeat / 2] / copies), Math.round((double) allocated[repeat / 2] / copies), copies);
    }

    private long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    /** Bytes retained on the heap (used heap after full collections, with and without) and allocated by the building thread. */
    record Measured(long retainedBytes, long allocatedBytes, int copies) {
    }

    record BlockMemory(List<String> layers, long weights, int topK, Measured dense, Measured buffers, Measured upload,
                       long agentAllocatedBytes, long agentNativePeakBytes, boolean print) {
        void print(int block) {
            if (!print) {
                return;
            }
            System.out.printf(Locale.ROOT, "{\"block\": %d, \"layers\": %s, \"weights\": %d, \"top_k\": %d,"
                            + " \"dense_gradient_retained_bytes\": %d, \"dense_gradient_allocated_bytes\": %d,"
                            + " \"topk_buffers_retained_bytes\": %d, \"topk_buffers_allocated_bytes\": %d,"
                            + " \"topk_upload_retained_bytes\": %d, \"topk_upload_allocated_bytes\": %d, \"copies_dense_topk\": [%d, %d],"
                            + " \"buffer_to_dense\": %.4f, \"agent_call_heap_allocated_bytes\": %d, \"agent_call_native_peak_bytes\": %d}%n",
                    block, layers.stream().map(s -> "\"" + s + "\"").toList(), weights, topK, dense.retainedBytes(), dense.allocatedBytes(),
                    buffers.retainedBytes(), buffers.allocatedBytes(), upload.retainedBytes(), upload.allocatedBytes(), dense.copies(), buffers.copies(),
                    (double) buffers.retainedBytes() / dense.retainedBytes(), agentAllocatedBytes, agentNativePeakBytes);
        }
    }
}
