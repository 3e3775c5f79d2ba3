package dev.fedprune.agent.bench;

import ai.djl.Device;
import dev.fedprune.agent.cnn.ActivationMemory;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.NsConvCnn;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.LabeledImages;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Bytes held for backward in one training step of FedMef's small NSConv CNN (16, 32, 64 channels) on a
 * real Fashion-MNIST batch, with scaled activation pruning at {@code gamma} against the dense cache,
 * from the buffers the layer-wise trainer holds ({@link ActivationMemory}). For context it also prints
 * what PyTorch's whole-graph autograd keeps (computed from the shapes), the native memory peak
 * (glibc, sampled) over a layer-wise step and over a whole-graph step, and the time per step of each.
 * One line per layer, then one JSON line with the results.
 */
public final class ActivationBench {

    /** The parameters of one run. */
    public record Options(Path data, double gamma, int batch, double density, int chunkRows, int steps, long seed) {
    }

    private ActivationBench() {
    }

    public static void run(Options o, PrintStream out) throws IOException, InterruptedException {
        if (o.batch() < 1 || o.steps() < 1) {
            throw new IllegalArgumentException("--batch and --steps must be >= 1, got " + o.batch() + " and " + o.steps());
        }
        LabeledImages train = FashionMnist.load(o.data(), FashionMnist.Split.TRAIN);
        int[] first = new int[o.batch()];
        for (int i = 0; i < first.length; i++) {
            first[i] = i;
        }
        LabeledImages.Batch b = train.batch(first, 0, o.batch());
        CnnConfig config = CnnConfig.smallVgg();
        try (NsConvCnn sap = new NsConvCnn(config, o.seed(), Device.cpu());
             NsConvCnn whole = new NsConvCnn(config, o.seed(), Device.cpu())) {
            CnnBench.applyErkMasks(sap, o.density());
            CnnBench.applyErkMasks(whole, o.density());
            sap.setActivationPruning(o.gamma());
            sap.setBackwardChunkRows(o.chunkRows());
            Step layerwise = measure(() -> sap.trainStep(b.pixels(), b.labels(), 0.01f), o.steps());
            Step wholeGraph = measure(() -> whole.trainStepWholeGraph(b.pixels(), b.labels(), 0.01f), o.steps());
            ActivationMemory m = sap.lastStepMemory();
            for (ActivationMemory.StoredInput in : m.inputs()) {
                out.printf(Locale.ROOT, "%-13s input %9d entries, kept %9d, %-9s %10d B (dense %10d B)%n", in.layer(), in.entries(),
                        in.kept(), in.format(), in.heldBytes(), 4L * in.entries());
            }
            out.printf(Locale.ROOT, "routing codes %10d B; stored in all %d B; peak held %d B (a rebuilt slice on top of the caches not yet released)%n",
                    m.routeBytes(), m.storedBytes(), m.peakBytes());
            out.printf(Locale.ROOT, "{\"gamma\": %s, \"batch\": %d, \"density\": %s, \"chunk_rows\": %d, \"dense_cache_bytes\": %d,"
                            + " \"sap_cache_bytes\": %d, \"sap_stored_bytes\": %d, \"sap_over_dense\": %.4f,"
                            + " \"whole_graph_autograd_cache_bytes\": %d, \"layerwise_native_peak_bytes\": %d,"
                            + " \"whole_graph_native_peak_bytes\": %d, \"layerwise_ms_per_step\": %.2f, \"whole_graph_ms_per_step\": %.2f}%n",
                    o.gamma(), o.batch(), o.density(), o.chunkRows(), m.denseCacheBytes(), m.peakBytes(), m.storedBytes(), m.ratio(),
                    whole.wholeGraphCacheBytes(o.batch()).orElseThrow(), layerwise.nativePeak(), wholeGraph.nativePeak(), layerwise.millis(), wholeGraph.millis());
        }
    }

    private record Step(long nativePeak, double millis) {
    }

    /**
     * Five warm-up steps (class loading and JIT compilation allocate native memory too), then
     * {@code steps} timed steps; the native peak is over the timed steps, above the level before them.
     */
    private static Step measure(Runnable step, int steps) throws InterruptedException {
        for (int s = 0; s < 5; s++) {
            step.run();
        }
        System.gc();
        long before = NativeHeap.inUseBytes();
        NativeHeap.PeakSampler sampler = NativeHeap.PeakSampler.start();
        long started = System.nanoTime();
        for (int s = 0; s < steps; s++) {
            step.run();
        }
        double millis = (System.nanoTime() - started) / 1e6 / steps;
        return new Step(sampler.stop() - before, millis);
    }
}
