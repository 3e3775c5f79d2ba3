package dev.fedprune.agent.cli;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.engine.ComputeDevice;
import dev.fedprune.agent.llm.ConsoleProgress;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.agent.prune.PruneOptions;
import dev.fedprune.agent.prune.PrunedModelWriter;
import dev.fedprune.agent.prune.SequentialPruner;
import dev.fedprune.agent.prune.Sparsity;
import dev.fedprune.agent.task.LocalPruneMethod;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Standalone (centralized) pruning of a LLaMA-family model: magnitude, Wanda or SparseGPT, unstructured
 * or N:M, layer by layer. Writes a model directory that {@code eval} accepts plus the masks, prints each
 * layer's sparsity and time, and ends with {@code sparsity: <fraction of pruned weights in pruned tensors>}.
 */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Prune a Hugging Face LLaMA-family model locally (magnitude, Wanda, SparseGPT; unstructured or N:M).")
public final class PruneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors)")
    Path model;

    @Option(names = "--calib", description = "calibration data: token-id JSONL or text (not needed for magnitude)")
    Path calibration;

    @Option(names = "--method", required = true, description = "magnitude, wanda or sparsegpt")
    String method;

    @Option(names = "--sparsity", description = "fraction of weights to remove, in [0, 1) (default 0.5)")
    Double sparsity;

    @Option(names = "--nm", description = "N:M semi-structured pattern, e.g. 2:4 or 4:8 (remove N of every M)")
    String nm;

    @Option(names = "--group", description = "comparison group of magnitude and Wanda: row or matrix (default: matrix for magnitude, row for wanda)")
    String group;

    @Option(names = "--variant", description = "Wanda's adaptive per-row variant (not exact-k)")
    boolean variant;

    @Option(names = "--samples", defaultValue = "128", description = "calibration samples, 0 = all (default 128)")
    int samples;

    @Option(names = "--seqlen", defaultValue = "0", description = "tokens per sample, 0 = max_position_embeddings")
    int sequenceLength;

    @Option(names = "--seed", defaultValue = "0", description = "sampling seed (default 0)")
    long seed;

    @Option(names = "--blocksize", defaultValue = "128", description = "SparseGPT column block size")
    int blockSize;

    @Option(names = "--damp", defaultValue = "0.01", description = "SparseGPT damping as a fraction of mean(diag H)")
    double damping;

    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu, cuda or cuda:N; cuda needs a libtorch built with CUDA (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR=cu128; checked at start)")
    String device;

    @Option(names = "--out", required = true, description = "output model directory")
    Path out;

    @Override
    public Integer call() throws Exception {
        try {
            return run();
        } catch (IllegalArgumentException | IllegalStateException | ArithmeticException | dev.fedprune.aggregation.format.FormatException e) {
            System.err.println("error: " + e.getMessage());
            return 2;
        }
    }

    private int run() throws Exception {
        // First: a device this process cannot compute on fails now, not after the model and the data are read.
        Device compute = ComputeDevice.require(device, "--device");
        LocalPruneMethod m = parseMethod(method);
        Sparsity target = target();
        PruneOptions options = new PruneOptions(m, target, variant, blockSize, damping);
        long start = System.nanoTime();
        try (LlamaModel llm = LlamaModel.open(model)) {
            LlamaConfig c = llm.config();
            List<TokenSequence> data = List.of();
            if (options.needsData()) {
                if (calibration == null) {
                    throw new IllegalArgumentException("--calib is required for " + method);
                }
                int seqLen = sequenceLength == 0 ? c.maxPositions() : Math.min(sequenceLength, c.maxPositions());
                data = TokenDatasets.sample(TokenDatasets.load(calibration, c.vocabSize(), seqLen, model), samples, seed);
                if (c.slidingWindow() > 0 && seqLen > c.slidingWindow()) {
                    System.out.printf(Locale.ROOT, "note: sequences longer than sliding_window %d use a banded mask%n", c.slidingWindow());
                }
            }
            System.out.printf(Locale.ROOT, "pruning %s (%d layers, %s) with %s at %s on %d calibration samples%n", model,
                    c.layers(), llm.weightDtype(), m.name().toLowerCase(Locale.ROOT), target.describe(), data.size());
            long[] totals = new long[2];
            Map<String, String> meta = Map.of("method", m.name().toLowerCase(Locale.ROOT), "sparsity", target.describe());
            try (ConsoleProgress progress = new ConsoleProgress(System.err);
                 PrunedModelWriter writer = new PrunedModelWriter(llm, out, meta)) {
                SequentialPruner.LayerSink sink = new SequentialPruner.LayerSink() {
                    @Override
                    public void tensor(int layer, Projection projection, float[] weights, BitMask mask) throws java.io.IOException {
                        writer.tensor(layer, projection, weights, mask);
                    }

                    @Override
                    public void layerDone(SequentialPruner.LayerResult result) throws java.io.IOException {
                        writer.layerDone(result);
                        totals[0] += result.prunedCount();
                        totals[1] += result.weightCount();
                        progress.close();
                        System.out.printf(Locale.ROOT, "layer %d: sparsity %.6f (%d of %d) in %.2f s%n", result.layer(),
                                (double) result.prunedCount() / result.weightCount(), result.prunedCount(), result.weightCount(),
                                result.seconds());
                    }
                };
                new SequentialPruner(compute).run(llm, data, options, 0, c.layers() - 1, Map.of(), sink, progress);
            }
            System.out.printf(Locale.ROOT, "wrote %s in %.2f s%n", out, (System.nanoTime() - start) / 1e9);
            System.out.printf(Locale.ROOT, "sparsity: %.6f%n", (double) totals[0] / totals[1]);
        }
        return 0;
    }

    static LocalPruneMethod parseMethod(String name) {
        try {
            return LocalPruneMethod.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--method '" + name + "' is not one of magnitude, wanda, sparsegpt");
        }
    }

    private Sparsity target() {
        if (nm != null) {
            String[] parts = nm.split(":");
            int n;
            int mm;
            try {
                n = Integer.parseInt(parts[0].trim());
                mm = Integer.parseInt(parts[1].trim());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("--nm '" + nm + "' must look like 2:4");
            }
            if (parts.length != 2) {
                throw new IllegalArgumentException("--nm '" + nm + "' must look like 2:4");
            }
            return new Sparsity(sparsity == null ? (double) n / mm : sparsity, true, n, mm);
        }
        boolean perRow;
        if (group == null) {
            perRow = !method.equalsIgnoreCase("magnitude");
        } else if (group.equals("row") || group.equals("matrix")) {
            perRow = group.equals("row");
        } else {
            throw new IllegalArgumentException("--group '" + group + "' must be row or matrix");
        }
        return Sparsity.unstructured(sparsity == null ? 0.5 : sparsity, perRow);
    }
}
