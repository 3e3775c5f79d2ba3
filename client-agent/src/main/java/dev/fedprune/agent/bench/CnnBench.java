package dev.fedprune.agent.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.cnn.SmallVggCnn;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparsetrain.CandidatePool;
import dev.fedprune.aggregation.sparsetrain.DensityAllocation;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Benchmarks of agent-side CNN training (FedTiny, issue 8): {@code throughput} times masked SGD steps of
 * the small VGG-style CNN on Fashion-MNIST and can export the exact initial model for the PyTorch
 * reference script ({@code bench/cnn_torch.py}); {@code adjust-memory} measures the heap an adjustment
 * round holds with top-K gradient buffers against a dense gradient of the same block.
 */
@Command(name = "cnn-bench", mixinStandardHelpOptions = true,
        subcommands = {CnnBench.Throughput.class, AdjustmentMemoryBench.class})
public final class CnnBench {

    public static void main(String[] args) {
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        System.exit(new CommandLine(new CnnBench()).execute(args));
    }

    /**
     * Keep-masks at {@code density} as the experiments build them: ERK layer densities (dense
     * parameters deducted) and magnitude pruning of the model's initial weights. No-op at density 1.
     */
    static void applyErkMasks(MaskedCnn cnn, double density) {
        if (density >= 1) {
            return;
        }
        List<LayerShape> layers = cnn.sparseLayers();
        double[] densities = DensityAllocation.erk(layers, density, cnn.denseParameterCount());
        int[] counts = DensityAllocation.keptCounts(layers, densities, DensityAllocation.budget(layers, density));
        List<float[]> init = new ArrayList<>();
        for (LayerShape l : layers) {
            init.add(cnn.weights(l.name()));
        }
        List<BitMask> masks = CandidatePool.keepMasks(init, counts);
        for (int i = 0; i < layers.size(); i++) {
            cnn.setKeepMask(layers.get(i).name(), masks.get(i));
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    static String json(double[] values) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            sb.append(i > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.6g", values[i]));
        }
        return sb.append(']').toString();
    }

    @Command(name = "throughput", description = "Images/s of masked SGD steps of the small CNN on Fashion-MNIST, warm-up excluded.")
    static final class Throughput implements Callable<Integer> {
        @Option(names = "--data", description = "directory of the Fashion-MNIST IDX files") Path data = FashionMnist.DEBIAN_DIRECTORY;
        @Option(names = "--densities", split = ",", defaultValue = "1.0,0.1") double[] densities;
        @Option(names = "--batch", defaultValue = "64") int batch;
        @Option(names = "--batches", defaultValue = "100", description = "distinct batches: the first batches x batch training images in file order, cycled") int batches;
        @Option(names = "--warmup", defaultValue = "30", description = "steps before timing") int warmup;
        @Option(names = "--steps", defaultValue = "100", description = "timed steps per repetition") int steps;
        @Option(names = "--repeat", defaultValue = "5") int repeat;
        @Option(names = "--lr", defaultValue = "0.05") float learningRate;
        @Option(names = "--seed", defaultValue = "0") long seed;
        @Option(names = "--djl-threads", description = "also call libtorch's set_num_threads through DJL (ai.djl.pytorch.num_threads);"
                + " by default libtorch takes its thread count from OMP_NUM_THREADS, which the bench prints") Integer djlThreads;
        @Option(names = "--check-steps", defaultValue = "5", description = "losses of the first steps printed for the cross-check") int checkSteps;
        @Option(names = "--export", description = "directory to write the initial model of each density as JSON for bench/cnn_torch.py") Path export;

        @Override
        public Integer call() throws IOException {
            if (djlThreads != null) {
                // Read by PtEngine when the engine starts, i.e. before the first NDManager exists.
                System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(djlThreads));
            }
            if (warmup < checkSteps || steps < 1 || repeat < 1 || batches < 1) {
                throw new CommandLine.ParameterException(new CommandLine(this), "need warmup >= check-steps, steps >= 1, repeat >= 1, batches >= 1");
            }
            LabeledImages train = FashionMnist.load(data, FashionMnist.Split.TRAIN);
            int[] order = new int[batches * batch];
            if (order.length > train.size()) {
                throw new CommandLine.ParameterException(new CommandLine(this), batches + " x " + batch + " images, the training set has " + train.size());
            }
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            List<LabeledImages.Batch> data = new ArrayList<>();
            for (int b = 0; b < batches; b++) {
                data.add(train.batch(order, b * batch, (b + 1) * batch));
            }
            String engine = Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion();
            System.out.printf(Locale.ROOT, "{\"engine\": \"DJL %s\", \"intra_op_threads\": %d, \"inter_op_threads\": %d, \"omp_num_threads\": \"%s\"}%n",
                    engine, JniUtils.getNumThreads(), JniUtils.getNumInteropThreads(), System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
            for (double density : densities) {
                run(density, data);
            }
            return 0;
        }

        private void run(double density, List<LabeledImages.Batch> data) throws IOException {
            try (SmallVggCnn cnn = new SmallVggCnn(CnnConfig.smallVgg(), seed, Device.cpu())) {
                applyErkMasks(cnn, density);
                long kept = 0;
                long total = 0;
                for (LayerShape layer : cnn.sparseLayers()) {
                    kept += cnn.keepMask(layer.name()).cardinality();
                    total += layer.weightCount();
                }
                if (export != null) {
                    Files.createDirectories(export);
                    ModelExport.write(cnn, export.resolve(String.format(Locale.ROOT, "small-vgg-d%s.json", density)));
                }
                int step = 0;
                double[] losses = new double[checkSteps];
                for (; step < warmup; step++) {
                    LabeledImages.Batch b = data.get(step % data.size());
                    float loss = cnn.trainStep(b.pixels(), b.labels(), learningRate);
                    if (step < checkSteps) {
                        losses[step] = loss;
                    }
                }
                double[] imagesPerSecond = new double[repeat];
                double[] imagesPerCpuSecond = new double[repeat];
                com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
                for (int r = 0; r < repeat; r++) {
                    long cpu = os.getProcessCpuTime();
                    long start = System.nanoTime();
                    for (int s = 0; s < steps; s++, step++) {
                        LabeledImages.Batch b = data.get(step % data.size());
                        cnn.trainStep(b.pixels(), b.labels(), learningRate);
                    }
                    double seconds = (System.nanoTime() - start) / 1e9;
                    imagesPerSecond[r] = (double) steps * batch / seconds;
                    imagesPerCpuSecond[r] = (double) steps * batch / ((os.getProcessCpuTime() - cpu) / 1e9);
                }
                System.out.printf(Locale.ROOT, "{\"impl\": \"djl\", \"density\": %.4f, \"batch\": %d, \"warmup_steps\": %d, \"steps\": %d, \"repeat\": %d,"
                                + " \"images_per_s\": %s, \"median_images_per_s\": %.1f, \"images_per_cpu_s\": %s, \"first_losses\": %s}%n",
                        (double) kept / total, batch, warmup, steps, repeat, json(imagesPerSecond), median(imagesPerSecond), json(imagesPerCpuSecond), json(losses));
            }
        }
    }

    /** Writes a CNN's sparse weights, keep-masks and dense state as JSON (floats in Java's shortest round-trip form). */
    static final class ModelExport {
        private ModelExport() {
        }

        static void write(SmallVggCnn cnn, Path file) throws IOException {
            StringBuilder sb = new StringBuilder("{\"channels\": ").append(Arrays.toString(cnn.config().channels()))
                    .append(", \"classes\": ").append(cnn.classes()).append(", \"sparse\": {");
            boolean first = true;
            for (LayerShape layer : cnn.sparseLayers()) {
                sb.append(first ? "" : ", ").append('"').append(layer.name()).append("\": {\"shape\": ").append(Arrays.toString(layer.shape()))
                        .append(", \"weights\": ");
                floats(sb, cnn.weights(layer.name()));
                BitMask keep = cnn.keepMask(layer.name());
                sb.append(", \"keep\": [");
                for (int i = 0; i < keep.length(); i++) {
                    sb.append(i > 0 ? "," : "").append(keep.get(i) ? '1' : '0');
                }
                sb.append("]}");
                first = false;
            }
            sb.append("}, \"dense\": {");
            first = true;
            for (Map.Entry<String, float[]> e : cnn.denseState().entrySet()) {
                sb.append(first ? "" : ", ").append('"').append(e.getKey()).append("\": ");
                floats(sb, e.getValue());
                first = false;
            }
            Files.writeString(file, sb.append("}}\n"));
        }

        private static void floats(StringBuilder sb, float[] values) {
            sb.append('[');
            for (int i = 0; i < values.length; i++) {
                sb.append(i > 0 ? "," : "").append(Float.toString(values[i]));
            }
            sb.append(']');
        }
    }
}
