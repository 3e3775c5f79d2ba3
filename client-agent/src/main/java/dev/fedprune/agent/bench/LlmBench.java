package dev.fedprune.agent.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.llm.ActivationObserver;
import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.DeviceLayer;
import dev.fedprune.agent.llm.HiddenStates;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.prune.DenseLinearAlgebra;
import dev.fedprune.agent.prune.ScoreMasks;
import dev.fedprune.agent.prune.SparseGpt;
import dev.fedprune.agent.prune.Sparsity;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Benchmarks of the LLM runtime and pruners, each against the obvious implementation in the same run:
 * {@code generate} writes a random LLaMA-shaped model and calibration file; {@code wanda-mask},
 * {@code sparsegpt} and {@code throughput} time the optimized code and the baseline and print the ratio;
 * {@code iterative} times the rounds of an iterative job with and without calibration states kept.
 */
@Command(name = "llm-bench", mixinStandardHelpOptions = true,
        subcommands = {LlmBench.Generate.class, LlmBench.WandaMask.class, LlmBench.SparseGptBench.class, LlmBench.Throughput.class,
                IterativeBench.class})
public final class LlmBench {

    public static void main(String[] args) {
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        System.exit(new CommandLine(new LlmBench()).execute(args));
    }

    static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    @Command(name = "generate", description = "Write a random LLaMA-shaped model and a token-id calibration file.")
    static final class Generate implements Callable<Integer> {
        @Option(names = "--out", required = true) Path out;
        @Option(names = "--layers", defaultValue = "16") int layers;
        @Option(names = "--hidden", defaultValue = "1024") int hidden;
        @Option(names = "--intermediate", defaultValue = "2816") int intermediate;
        @Option(names = "--heads", defaultValue = "16") int heads;
        @Option(names = "--kv-heads", defaultValue = "16") int kvHeads;
        @Option(names = "--vocab", defaultValue = "32000") int vocab;
        @Option(names = "--max-positions", defaultValue = "2048") int maxPositions;
        @Option(names = "--dtype", defaultValue = "F32") DType dtype;
        @Option(names = "--calib-lines", defaultValue = "64") int calibLines;
        @Option(names = "--calib-tokens", defaultValue = "128") int calibTokens;
        @Option(names = "--seed", defaultValue = "0") long seed;

        @Override
        public Integer call() throws Exception {
            SyntheticLlama.Shape shape = new SyntheticLlama.Shape(layers, hidden, intermediate, heads, kvHeads, vocab, maxPositions, true, dtype);
            long start = System.nanoTime();
            SyntheticLlama.write(out, shape, seed);
            SplittableRandom random = new SplittableRandom(seed);
            List<String> lines = new ArrayList<>();
            for (int l = 0; l < calibLines; l++) {
                StringBuilder sb = new StringBuilder("{\"ids\": [1");
                for (int t = 1; t < calibTokens; t++) {
                    sb.append(',').append(3 + random.nextInt(vocab - 3));
                }
                lines.add(sb.append("]}").toString());
            }
            Files.write(out.resolve("calibration.jsonl"), lines);
            System.out.printf(Locale.ROOT, "model: %,d parameters, model.safetensors %,d bytes, written in %.1f s%n",
                    shape.parameterCount(), Files.size(out.resolve("model.safetensors")), seconds(start));
            return 0;
        }
    }

    @Command(name = "wanda-mask", description = "Wanda mask of one matrix given activation norms: linear-time selection vs full sort per row.")
    static final class WandaMask implements Callable<Integer> {
        @Option(names = "--rows", defaultValue = "4096") int rows;
        @Option(names = "--cols", defaultValue = "11008") int cols;
        @Option(names = "--sparsity", defaultValue = "0.5") double sparsity;
        @Option(names = "--repeat", defaultValue = "3") int repeat;

        @Override
        public Integer call() {
            SplittableRandom random = new SplittableRandom(1);
            float[] w = new float[Math.multiplyExact(rows, cols)];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) random.nextGaussian();
            }
            float[] scaler = new float[cols];
            for (int j = 0; j < cols; j++) {
                scaler[j] = (float) Math.abs(random.nextGaussian());
            }
            BitMask fast = null;
            double best = Double.MAX_VALUE;
            for (int r = 0; r < repeat + 1; r++) { // first run warms up the JIT
                long start = System.nanoTime();
                fast = ScoreMasks.mask(ScoreMasks.wanda(w, cols, scaler), rows, cols, Sparsity.unstructured(sparsity, true));
                if (r > 0) {
                    best = Math.min(best, seconds(start));
                }
            }
            Baselines.wandaBySort(w, 64, cols, scaler, sparsity); // warm-up
            long start = System.nanoTime();
            BitMask slow = Baselines.wandaBySort(w, rows, cols, scaler, sparsity);
            double baseline = seconds(start);
            Baselines.wandaByPrimitiveSort(w, 64, cols, scaler, sparsity);
            start = System.nanoTime();
            BitMask primitive = Baselines.wandaByPrimitiveSort(w, rows, cols, scaler, sparsity);
            double primitiveSeconds = seconds(start);
            boolean same = fast.equals(slow) && fast.equals(primitive);
            System.out.printf(Locale.ROOT, "wanda mask %dx%d s=%.2f: optimized %.3f s (best of %d, %d threads); full sort per row of boxed"
                    + " indices with a comparator %.3f s (ratio %.1fx); full primitive sort per row of packed keys, one thread %.3f s"
                    + " (ratio %.1fx); masks identical: %s%n", rows, cols, sparsity, best, repeat,
                    Runtime.getRuntime().availableProcessors(), baseline, baseline / best, primitiveSeconds, primitiveSeconds / best, same);
            return same ? 0 : 1;
        }
    }

    @Command(name = "sparsegpt", description = "SparseGPT on one matrix given its Hessian: blocked/tiled/parallel vs plain dense loops.")
    static final class SparseGptBench implements Callable<Integer> {
        @Option(names = "--rows", defaultValue = "4096") int rows;
        @Option(names = "--cols", defaultValue = "4096") int cols;
        @Option(names = "--tokens", defaultValue = "8192") int tokens;
        @Option(names = "--sparsity", defaultValue = "0.5") double sparsity;
        @Option(names = "--skip-baseline") boolean skipBaseline;

        @Override
        public Integer call() {
            SplittableRandom random = new SplittableRandom(2);
            double[] h;
            try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
                NDArray x = m.randomNormal(new Shape(tokens, cols));
                float[] hf = x.transpose().matMul(x).mul(2f / tokens).toFloatArray();
                h = new double[hf.length];
                for (int i = 0; i < hf.length; i++) {
                    h[i] = hf[i];
                }
            }
            float[] w = new float[Math.multiplyExact(rows, cols)];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (random.nextGaussian() / Math.sqrt(cols));
            }
            // Damping as in SparseGpt.factor, applied once so that both paths factor the same matrix.
            double mean = 0;
            for (int j = 0; j < cols; j++) {
                mean += h[j * cols + j] / cols;
            }
            for (int j = 0; j < cols; j++) {
                h[j * cols + j] += 0.01 * mean;
            }
            float[] w1 = w.clone();
            long start = System.nanoTime();
            double[] ud = DenseLinearAlgebra.upperCholeskyOfInverse(h, cols);
            double factorFast = seconds(start);
            float[] u = toFloat(ud);
            start = System.nanoTime();
            SparseGpt.Result fast = SparseGpt.sweep(w1, rows, cols, u, Sparsity.unstructured(sparsity, true), SparseGpt.DEFAULT_BLOCK);
            double sweepFast = seconds(start);
            System.out.printf(Locale.ROOT, "sparsegpt %dx%d: optimized factor %.2f s + sweep %.2f s = %.2f s (%d threads)%n", rows, cols,
                    factorFast, sweepFast, factorFast + sweepFast, Runtime.getRuntime().availableProcessors());
            if (skipBaseline) {
                return 0;
            }
            float[] w2 = w.clone();
            start = System.nanoTime();
            double[] us = Baselines.upperCholeskyOfInverse(h, cols);
            double factorSlow = seconds(start);
            start = System.nanoTime();
            BitMask slow = Baselines.sparseGptSweep(w2, rows, cols, toFloat(us), sparsity, SparseGpt.DEFAULT_BLOCK);
            double sweepSlow = seconds(start);
            double maxU = 0;
            for (int i = 0; i < ud.length; i++) {
                maxU = Math.max(maxU, Math.abs(ud[i] - us[i]));
            }
            long differing = slow.hammingDistance(fast.mask());
            System.out.printf(Locale.ROOT, "sparsegpt %dx%d: plain loops factor %.2f s + sweep %.2f s = %.2f s; ratio factor %.1fx, sweep %.1fx,"
                    + " total %.1fx; max |U diff| %.2g, mask bits differing %d of %d%n", rows, cols, factorSlow, sweepSlow,
                    factorSlow + sweepSlow, factorSlow / factorFast, sweepSlow / sweepFast, (factorSlow + sweepSlow) / (factorFast + sweepFast),
                    maxU, differing, slow.length());
            return 0;
        }

        private static float[] toFloat(double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                f[i] = (float) d[i];
            }
            return f;
        }
    }

    @Command(name = "throughput", description = "Calibration forward throughput (tokens/s): DJL layer streaming vs plain Java loops.")
    static final class Throughput implements Callable<Integer> {
        @Option(names = "--model", required = true) Path model;
        @Option(names = "--calib", required = true) Path calib;
        @Option(names = "--samples", defaultValue = "32") int samples;
        @Option(names = "--seqlen", defaultValue = "128") int seqLen;
        @Option(names = "--baseline-samples", defaultValue = "1") int baselineSamples;

        @Override
        public Integer call() throws Exception {
            try (LlamaModel llm = LlamaModel.open(model)) {
                LlamaConfig c = llm.config();
                List<TokenSequence> data = TokenDatasets.sample(TokenDatasets.load(calib, c.vocabSize(), seqLen, model), samples, 0);
                List<int[]> ids = data.stream().map(TokenSequence::ids).toList();
                long tokens = ids.stream().mapToLong(a -> a.length).sum();
                double djl;
                try (DecoderRuntime runtime = new DecoderRuntime(c, seqLen, Device.cpu())) {
                    try (HiddenStates warm = HiddenStates.embed(runtime, llm, ids.subList(0, 1));
                         DeviceLayer layer = runtime.upload(llm.loadLayer(0))) {
                        warm.forward(layer, ActivationObserver.NONE, "warm", ProgressListener.NONE);
                    }
                    long start = System.nanoTime();
                    try (HiddenStates states = HiddenStates.embed(runtime, llm, ids)) {
                        for (int l = 0; l < c.layers(); l++) {
                            try (DeviceLayer layer = runtime.upload(llm.loadLayer(l))) {
                                states.forward(layer, ActivationObserver.NONE, "t", ProgressListener.NONE);
                            }
                        }
                    }
                    djl = seconds(start);
                }
                System.out.printf(Locale.ROOT, "forward through %d layers: DJL layer streaming %d tokens in %.2f s = %.0f tokens/s%n",
                        c.layers(), tokens, djl, tokens / djl);
                if (baselineSamples > 0) {
                    PlainForward plain = new PlainForward(model);
                    long baseTokens = 0;
                    long start = System.nanoTime();
                    for (int s = 0; s < Math.min(baselineSamples, ids.size()); s++) {
                        plain.logits(ids.get(s));
                        baseTokens += ids.get(s).length;
                    }
                    double base = seconds(start);
                    System.out.printf(Locale.ROOT, "plain Java double loops (incl. LM head): %d tokens in %.2f s = %.1f tokens/s; ratio %.1fx%n",
                            baseTokens, base, baseTokens / base, (tokens / djl) / (baseTokens / base));
                }
            }
            return 0;
        }
    }
}
