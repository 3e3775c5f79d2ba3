package dev.fedprune.aggregation.model;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.Tensors;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a LLaMA-architecture Hugging Face model directory with seeded random weights: the model used
 * by tests, benchmarks and the demo when no real checkpoint is at hand. Tensors are generated and
 * written one at a time, so a model larger than the heap can be produced.
 *
 * <p>Two generators: {@link #write(Path, Shape, long)} draws every weight in turn from one
 * {@code java.util.Random} (the values tests and documented figures were measured with; fine for small
 * models), while {@link #writeSharded} writes real-scale checkpoints, optionally as Hugging Face shards:
 * each block of a tensor has its own seeded {@code SplittableRandom}, blocks are filled in parallel and
 * streamed to disk, and the values depend only on the seed and the shape, never on the shard count.
 */
public final class SyntheticLlama {
    /** The index of a sharded Hugging Face checkpoint. */
    public static final String SHARD_INDEX = "model.safetensors.index.json";
    /** Elements per independently seeded block of {@link #writeSharded}: 8 MiB of BF16. */
    static final int BLOCK_ELEMENTS = 1 << 22;

    /** Shape of the generated model; defaults are a laptop-sized toy. */
    public record Shape(int layers, int hidden, int intermediate, int heads, int kvHeads, int vocab, int maxPositions,
                        boolean tieEmbeddings, DType dtype) {
        public static Shape tiny() {
            return new Shape(2, 64, 172, 4, 2, 259, 64, true, DType.F32);
        }

        /** The shape of Llama-3.2-1B: GQA 32/8 heads, vocabulary 128,256, tied embeddings, BF16 (1.24 B parameters). */
        public static Shape llama32OneB() {
            return new Shape(16, 2048, 8192, 32, 8, 128_256, 131_072, true, DType.BF16);
        }

        /** The shape of LLaMA-2-7B: 32 layers, no GQA, vocabulary 32,000, untied lm_head, BF16 (6.74 B parameters). */
        public static Shape llama2SevenB() {
            return new Shape(32, 4096, 11008, 32, 32, 32_000, 4096, false, DType.BF16);
        }

        public long parameterCount() {
            int headDim = hidden / heads;
            long attention = (long) hidden * hidden * 2 + 2L * hidden * kvHeads * headDim;
            long mlp = 3L * hidden * intermediate;
            long perLayer = attention + mlp + 2L * hidden;
            return layers * perLayer + (long) vocab * hidden * (tieEmbeddings ? 1 : 2) + hidden;
        }

        /** Every tensor in Hugging Face's order: embed_tokens, the layers in order, norm, lm_head when untied. */
        public List<SafetensorsWriter.Entry> tensors() {
            if (hidden % heads != 0 || heads % kvHeads != 0) {
                throw new IllegalArgumentException("hidden must divide into heads and heads into kv heads: " + this);
            }
            int headDim = hidden / heads;
            Map<String, long[]> tensors = new LinkedHashMap<>();
            tensors.put("model.embed_tokens.weight", new long[] {vocab, hidden});
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                tensors.put(p + "input_layernorm.weight", new long[] {hidden});
                tensors.put(p + "self_attn.q_proj.weight", new long[] {hidden, hidden});
                tensors.put(p + "self_attn.k_proj.weight", new long[] {(long) kvHeads * headDim, hidden});
                tensors.put(p + "self_attn.v_proj.weight", new long[] {(long) kvHeads * headDim, hidden});
                tensors.put(p + "self_attn.o_proj.weight", new long[] {hidden, hidden});
                tensors.put(p + "post_attention_layernorm.weight", new long[] {hidden});
                tensors.put(p + "mlp.gate_proj.weight", new long[] {intermediate, hidden});
                tensors.put(p + "mlp.up_proj.weight", new long[] {intermediate, hidden});
                tensors.put(p + "mlp.down_proj.weight", new long[] {hidden, intermediate});
            }
            tensors.put("model.norm.weight", new long[] {hidden});
            if (!tieEmbeddings) {
                tensors.put("lm_head.weight", new long[] {vocab, hidden});
            }
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            tensors.forEach((name, dims) -> entries.add(new SafetensorsWriter.Entry(name, dtype, dims)));
            return entries;
        }
    }

    /** Told how far a long generation has got. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = (written, total) -> { };

        void bytesWritten(long written, long total);
    }

    private SyntheticLlama() {
    }

    public static void write(Path dir, Shape shape, long seed) throws IOException {
        List<SafetensorsWriter.Entry> entries = shape.tensors();
        Files.createDirectories(dir);
        Random random = new Random(seed);
        try (SafetensorsWriter writer = SafetensorsWriter.create(dir.resolve("model.safetensors"), entries, Map.of("format", "pt"))) {
            for (SafetensorsWriter.Entry e : entries) {
                int count = Math.toIntExact(e.byteSize() / shape.dtype.bytes());
                boolean norm = e.name().endsWith("norm.weight");
                double std = norm ? 0.05 : 1.0 / Math.sqrt(e.shape()[e.shape().length - 1]);
                float[] values = new float[count];
                for (int i = 0; i < count; i++) {
                    values[i] = (float) ((norm ? 1.0 : 0.0) + std * random.nextGaussian());
                }
                writer.write(e.name(), ByteBuffer.wrap(toBytes(values, shape.dtype)).order(ByteOrder.LITTLE_ENDIAN));
            }
        }
        Files.writeString(dir.resolve("config.json"), config(shape));
    }

    /**
     * Writes a model of any size: {@code model.safetensors} when {@code shards} is 1, otherwise
     * {@code model-0000i-of-0000N.safetensors} split at tensor boundaries into roughly equal bytes plus
     * {@value #SHARD_INDEX}, as Hugging Face's {@code save_pretrained} lays them out. The weights are
     * those of the same seed and shape whatever the shard count (not those of {@link #write}).
     *
     * @return the safetensors files written, in order
     */
    public static List<Path> writeSharded(Path dir, Shape shape, long seed, int shards, Progress progress) throws IOException {
        List<SafetensorsWriter.Entry> entries = shape.tensors();
        int[] shardOf = assignShards(entries, shards);
        Files.createDirectories(dir);
        long total = entries.stream().mapToLong(SafetensorsWriter.Entry::byteSize).sum();
        long[] tensorSeeds = new long[entries.size()];
        SplittableRandom root = new SplittableRandom(seed);
        for (int i = 0; i < tensorSeeds.length; i++) {
            tensorSeeds[i] = root.nextLong();
        }
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "synthetic-llama-fill");
            t.setDaemon(true);
            return t;
        });
        List<Path> files = new ArrayList<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        long written = 0;
        try {
            int first = 0;
            for (int shard = 0; shard < shards; shard++) {
                int end = first;
                while (end < entries.size() && shardOf[end] == shard) {
                    end++;
                }
                String name = shards == 1 ? "model.safetensors"
                        : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", shard + 1, shards);
                Path file = dir.resolve(name);
                List<SafetensorsWriter.Entry> part = entries.subList(first, end);
                try (SafetensorsWriter writer = SafetensorsWriter.create(file, part, Map.of("format", "pt"))) {
                    for (int i = first; i < end; i++) {
                        written = writeBlocks(writer, entries.get(i), tensorSeeds[i], pool, threads, written, total, progress);
                        weightMap.put(entries.get(i).name(), name);
                    }
                }
                files.add(file);
                first = end;
            }
        } finally {
            pool.shutdownNow();
        }
        if (shards > 1) {
            Files.writeString(dir.resolve(SHARD_INDEX), index(total, weightMap));
        }
        Files.writeString(dir.resolve("config.json"), config(shape));
        return files;
    }

    /**
     * The shard of each tensor, in order: a shard takes tensors while it holds less than its share of
     * the bytes not in earlier shards (a tensor counts by its middle byte), and no shard stays empty.
     */
    static int[] assignShards(List<SafetensorsWriter.Entry> entries, int shards) {
        if (shards < 1 || shards > entries.size()) {
            throw new IllegalArgumentException("shards must be in [1, " + entries.size() + "] (one tensor at least each), got " + shards);
        }
        long total = entries.stream().mapToLong(SafetensorsWriter.Entry::byteSize).sum();
        int[] shardOf = new int[entries.size()];
        int shard = 0;
        int tensorsInShard = 0;
        long bytesInShard = 0;
        long bytesBeforeShard = 0;
        for (int i = 0; i < entries.size(); i++) {
            long size = entries.get(i).byteSize();
            if (tensorsInShard > 0 && shard < shards - 1) {
                long share = ceilDiv(total - bytesBeforeShard, shards - shard);
                boolean full = bytesInShard + size / 2 > share;
                boolean laterShardsNeedTheRest = entries.size() - i == shards - 1 - shard;
                if (full || laterShardsNeedTheRest) {
                    shard++;
                    bytesBeforeShard += bytesInShard;
                    tensorsInShard = 0;
                    bytesInShard = 0;
                }
            }
            shardOf[i] = shard;
            tensorsInShard++;
            bytesInShard += size;
        }
        return shardOf;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Fills one tensor block by block on the pool and writes the blocks in order, a bounded number in flight. */
    private static long writeBlocks(SafetensorsWriter writer, SafetensorsWriter.Entry e, long tensorSeed, ExecutorService pool,
                                    int threads, long written, long total, Progress progress) throws IOException {
        long count = e.byteSize() / e.dtype().bytes();
        boolean norm = e.name().endsWith("norm.weight");
        float mean = norm ? 1f : 0f;
        double std = norm ? 0.05 : 1.0 / Math.sqrt(e.shape()[e.shape().length - 1]);
        long blocks = (count + BLOCK_ELEMENTS - 1) / BLOCK_ELEMENTS;
        ArrayDeque<Future<byte[]>> inFlight = new ArrayDeque<>();
        long submitted = 0;
        while (submitted < blocks || !inFlight.isEmpty()) {
            while (submitted < blocks && inFlight.size() < 2 * threads) {
                long block = submitted++;
                int length = (int) Math.min(BLOCK_ELEMENTS, count - block * BLOCK_ELEMENTS);
                inFlight.add(pool.submit(() -> Tensors.fromFloats(fillBlock(tensorSeed, block, length, mean, std), e.dtype())));
            }
            byte[] bytes;
            try {
                bytes = inFlight.removeFirst().get();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while generating " + e.name());
            } catch (ExecutionException ex) {
                throw new IllegalStateException("generating " + e.name() + " failed", ex.getCause());
            }
            writer.writePart(e.name(), ByteBuffer.wrap(bytes));
            written += bytes.length;
            progress.bytesWritten(written, total);
        }
        if (count == 0) {
            writer.writePart(e.name(), ByteBuffer.allocate(0));
        }
        return written;
    }

    /**
     * Approximately normal values from one {@code nextLong} each: the sum of its four 16-bit
     * quarters (Irwin-Hall with n = 4), standardised, which is close enough to Gaussian for random weights
     * and several times faster than {@code nextGaussian}.
     */
    static float[] fillBlock(long tensorSeed, long block, int length, float mean, double std) {
        SplittableRandom random = new SplittableRandom(mix64(tensorSeed + (block + 1) * 0x9E3779B97F4A7C15L));
        float[] values = new float[length];
        double scale = std * Math.sqrt(3.0) / 65536.0; // the sum of four uniform 16-bit values has variance 65536^2 / 3
        for (int i = 0; i < length; i++) {
            long r = random.nextLong();
            long sum = (r & 0xFFFF) + ((r >>> 16) & 0xFFFF) + ((r >>> 32) & 0xFFFF) + (r >>> 48);
            values[i] = (float) (mean + (sum - 131070) * scale);
        }
        return values;
    }

    /** MurmurHash3's 64-bit finaliser: nearby block numbers give unrelated seeds. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }

    private static String index(long totalBytes, Map<String, String> weightMap) {
        StringBuilder json = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": ").append(totalBytes)
                .append("\n  },\n  \"weight_map\": {");
        String separator = "\n";
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            json.append(separator).append("    \"").append(e.getKey()).append("\": \"").append(e.getValue()).append('"');
            separator = ",\n";
        }
        return json.append("\n  }\n}\n").toString();
    }

    private static byte[] toBytes(float[] values, DType dtype) {
        return Tensors.fromFloats(values, dtype);
    }

    private static String config(Shape s) {
        String dtype = switch (s.dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
        return """
            {
              "architectures": ["LlamaForCausalLM"],
              "model_type": "llama",
              "hidden_size": %d,
              "intermediate_size": %d,
              "num_hidden_layers": %d,
              "num_attention_heads": %d,
              "num_key_value_heads": %d,
              "vocab_size": %d,
              "max_position_embeddings": %d,
              "rms_norm_eps": 1e-05,
              "rope_theta": 10000.0,
              "hidden_act": "silu",
              "tie_word_embeddings": %s,
              "bos_token_id": 1,
              "eos_token_id": 2,
              "torch_dtype": "%s"
            }
            """.formatted(s.hidden, s.intermediate, s.layers, s.heads, s.kvHeads, s.vocab, s.maxPositions,
                s.tieEmbeddings, dtype);
    }
}
