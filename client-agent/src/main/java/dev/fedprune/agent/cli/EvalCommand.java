package dev.fedprune.agent.cli;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.engine.ComputeDevice;
import dev.fedprune.agent.eval.Perplexity;
import dev.fedprune.agent.llm.ConsoleProgress;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Perplexity of a LLaMA-family model on token-id JSONL or text: every sample its own window cut to the
 * sequence length, {@code exp(total NLL / total predicted tokens)}. Ends with {@code perplexity: <value>}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Perplexity of a LLaMA-family model on token-id JSONL or text.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors)")
    Path model;

    @Option(names = "--data", required = true, description = "token-id JSONL (one sample per line) or plain text")
    Path data;

    @Option(names = "--seqlen", defaultValue = "0", description = "tokens per window, 0 = max_position_embeddings")
    int sequenceLength;

    @Option(names = "--samples", defaultValue = "0", description = "evaluate this many samples drawn by --seed, 0 = all")
    int samples;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu, cuda or cuda:N; cuda needs a libtorch built with CUDA (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR=cu128; checked at start)")
    String device;

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
        long start = System.nanoTime();
        try (LlamaModel llm = LlamaModel.open(model)) {
            LlamaConfig c = llm.config();
            int seqLen = sequenceLength == 0 ? c.maxPositions() : Math.min(sequenceLength, c.maxPositions());
            List<TokenSequence> windows = TokenDatasets.sample(TokenDatasets.load(data, c.vocabSize(), seqLen, model), samples, seed);
            Perplexity.Result r;
            try (ConsoleProgress progress = new ConsoleProgress(System.err)) {
                r = Perplexity.evaluate(llm, windows, compute, progress);
            }
            System.out.printf(Locale.ROOT, "samples: %d, predicted tokens: %d, mean NLL: %.6f, time: %.2f s%n", r.samples(),
                    r.predictedTokens(), r.totalNll() / r.predictedTokens(), (System.nanoTime() - start) / 1e9);
            System.out.printf(Locale.ROOT, "perplexity: %.4f%n", r.perplexity());
        }
        return 0;
    }
}
