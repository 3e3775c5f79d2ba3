package dev.fedprune.simulations.cli;

import dev.fedprune.aggregation.model.SyntheticLlama;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Writes a random LLaMA checkpoint of a real model's shape (optionally as Hugging Face shards) and each
 * agent's token-id calibration and evaluation files, for the scale benchmarks ({@code bench/llm-scale.sh}).
 */
@Command(name = "generate-llama", mixinStandardHelpOptions = true,
        description = "Write a random LLaMA checkpoint of a real model's shape and per-agent token-id data files.")
final class GenerateLlamaCommand implements Callable<Integer> {
    /** The shapes by name: a real model's, or the small test model. */
    enum ShapeName {
        tiny, llama32_1b, llama2_7b;

        static ShapeName parse(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "tiny" -> tiny;
                case "1b", "llama-3.2-1b", "llama32_1b" -> llama32_1b;
                case "7b", "llama-2-7b", "llama2_7b" -> llama2_7b;
                default -> null;
            };
        }

        SyntheticLlama.Shape shape() {
            return switch (this) {
                case tiny -> SyntheticLlama.Shape.tiny();
                case llama32_1b -> SyntheticLlama.Shape.llama32OneB();
                case llama2_7b -> SyntheticLlama.Shape.llama2SevenB();
            };
        }

        /** Hugging Face's shard counts for these models at the default 5 GB maximum shard size. */
        int defaultShards() {
            return switch (this) {
                case tiny -> 1;
                case llama32_1b -> 2;
                case llama2_7b -> 3;
            };
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Model directory to write (config.json and safetensors).")
    Path out;

    @Option(names = "--shape", defaultValue = "tiny", paramLabel = "NAME",
            description = "tiny, 1b (Llama-3.2-1B: 2048/8192, 16 layers, 32/8 heads, vocab 128256, tied, BF16) or"
                    + " 7b (LLaMA-2-7B: 4096/11008, 32 layers, 32/32 heads, vocab 32000, untied, BF16) (default: ${DEFAULT-VALUE}).")
    String shapeName;

    @Option(names = "--layers", paramLabel = "N", description = "Decoder layers instead of the shape's (for quick checks).")
    Integer layers;

    @Option(names = "--shards", paramLabel = "N", description = "Safetensors shards (default: 1 for tiny, 2 for 1b, 3 for 7b).")
    Integer shards;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights and the data (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--data", paramLabel = "DIR",
            description = "Also write calibration/agent-N.jsonl and evaluation/agent-N.jsonl here (random token ids below the vocabulary).")
    Path data;

    @Option(names = "--data-only", description = "Write only the data files (--data), for a model already generated with the same shape.")
    boolean dataOnly;

    @Option(names = "--agents", defaultValue = "4", description = "Agents to write data files for (default: ${DEFAULT-VALUE}).")
    int agents;

    @Option(names = "--samples", defaultValue = "32", description = "Calibration lines per agent (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--eval-samples", defaultValue = "8", description = "Evaluation lines per agent (default: ${DEFAULT-VALUE}).")
    int evalSamples;

    @Option(names = "--tokens", defaultValue = "128", description = "Token ids per line (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Override
    public Integer call() throws IOException {
        ShapeName name = ShapeName.parse(shapeName);
        if (name == null) {
            throw new ParameterException(spec.commandLine(), "--shape: expected tiny, 1b (Llama-3.2-1B) or 7b (LLaMA-2-7B), got '" + shapeName + "'");
        }
        SyntheticLlama.Shape s = name.shape();
        if (layers != null) {
            s = new SyntheticLlama.Shape(layers, s.hidden(), s.intermediate(), s.heads(), s.kvHeads(), s.vocab(), s.maxPositions(),
                    s.tieEmbeddings(), s.dtype());
        }
        if (dataOnly) {
            if (data == null) {
                throw new ParameterException(spec.commandLine(), "--data-only needs --data DIR");
            }
            writeData(s.vocab());
            System.out.println("data=" + data.toAbsolutePath().normalize());
            return 0;
        }
        int shardCount = shards == null ? name.defaultShards() : shards;
        long bytes = s.tensors().stream().mapToLong(e -> e.byteSize()).sum();
        System.err.printf(Locale.ROOT, "generate-llama: %s, %d layers, %,d parameters, %s, %.2f GB in %d shard(s) -> %s%n",
                name, s.layers(), s.parameterCount(), s.dtype(), bytes / 1e9, shardCount, out);
        long start = System.nanoTime();
        long[] lastReport = {start};
        SyntheticLlama.writeSharded(out, s, seed, shardCount, (written, total) -> {
            long now = System.nanoTime();
            if (now - lastReport[0] >= 5_000_000_000L || written == total) {
                lastReport[0] = now;
                double seconds = (now - start) / 1e9;
                System.err.printf(Locale.ROOT, "generate-llama: %.2f of %.2f GB (%.0f%%), %.0f s, %.0f MB/s%n",
                        written / 1e9, total / 1e9, 100.0 * written / total, seconds, written / 1e6 / Math.max(seconds, 1e-3));
            }
        });
        System.err.printf(Locale.ROOT, "generate-llama: model written in %.1f s%n", (System.nanoTime() - start) / 1e9);
        System.out.println("model=" + out.toAbsolutePath().normalize());
        if (data != null) {
            writeData(s.vocab());
            System.out.println("data=" + data.toAbsolutePath().normalize());
        }
        return 0;
    }

    /** Each agent's own random documents: {@code <s>} (id 1) then ids in [3, vocab), one category per agent. */
    private void writeData(int vocab) throws IOException {
        SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
        for (String kind : new String[] {"calibration", "evaluation"}) {
            Path dir = data.resolve(kind);
            Files.createDirectories(dir);
            int lines = kind.equals("calibration") ? samples : evalSamples;
            for (int a = 0; a < agents; a++) {
                SplittableRandom agentRandom = random.split();
                try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("agent-" + a + ".jsonl"), StandardCharsets.UTF_8)) {
                    for (int line = 0; line < lines; line++) {
                        StringBuilder sb = new StringBuilder("{\"category\": \"agent-").append(a).append("\", \"ids\": [1");
                        for (int t = 1; t < tokens; t++) {
                            sb.append(',').append(3 + agentRandom.nextInt(vocab - 3));
                        }
                        w.write(sb.append("]}\n").toString());
                    }
                }
            }
        }
    }
}
