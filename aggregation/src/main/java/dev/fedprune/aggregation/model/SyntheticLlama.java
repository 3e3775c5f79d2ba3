package dev.fedprune.aggregation.model;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes a LLaMA-architecture Hugging Face model directory with seeded random weights: the model used
 * by tests, benchmarks and the demo when no real checkpoint is at hand. Tensors are generated and
 * written one at a time, so a model larger than the heap can be produced.
 */
public final class SyntheticLlama {

    /** Shape of the generated model; defaults are a laptop-sized toy. */
    public record Shape(int layers, int hidden, int intermediate, int heads, int kvHeads, int vocab, int maxPositions,
                        boolean tieEmbeddings, DType dtype) {
        public static Shape tiny() {
            return new Shape(2, 64, 172, 4, 2, 259, 64, true, DType.F32);
        }

        public long parameterCount() {
            int headDim = hidden / heads;
            long attention = (long) hidden * hidden * 2 + 2L * hidden * kvHeads * headDim;
            long mlp = 3L * hidden * intermediate;
            long perLayer = attention + mlp + 2L * hidden;
            return layers * perLayer + (long) vocab * hidden * (tieEmbeddings ? 1 : 2) + hidden;
        }
    }

    private SyntheticLlama() {
    }

    public static void write(Path dir, Shape shape, long seed) throws IOException {
        if (shape.hidden % shape.heads != 0 || shape.heads % shape.kvHeads != 0) {
            throw new IllegalArgumentException("hidden must divide into heads and heads into kv heads: " + shape);
        }
        Files.createDirectories(dir);
        int headDim = shape.hidden / shape.heads;
        Map<String, long[]> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight", new long[] {shape.vocab, shape.hidden});
        for (int l = 0; l < shape.layers; l++) {
            String p = "model.layers." + l + ".";
            tensors.put(p + "input_layernorm.weight", new long[] {shape.hidden});
            tensors.put(p + "self_attn.q_proj.weight", new long[] {shape.hidden, shape.hidden});
            tensors.put(p + "self_attn.k_proj.weight", new long[] {(long) shape.kvHeads * headDim, shape.hidden});
            tensors.put(p + "self_attn.v_proj.weight", new long[] {(long) shape.kvHeads * headDim, shape.hidden});
            tensors.put(p + "self_attn.o_proj.weight", new long[] {shape.hidden, shape.hidden});
            tensors.put(p + "post_attention_layernorm.weight", new long[] {shape.hidden});
            tensors.put(p + "mlp.gate_proj.weight", new long[] {shape.intermediate, shape.hidden});
            tensors.put(p + "mlp.up_proj.weight", new long[] {shape.intermediate, shape.hidden});
            tensors.put(p + "mlp.down_proj.weight", new long[] {shape.hidden, shape.intermediate});
        }
        tensors.put("model.norm.weight", new long[] {shape.hidden});
        if (!shape.tieEmbeddings) {
            tensors.put("lm_head.weight", new long[] {shape.vocab, shape.hidden});
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        tensors.forEach((name, dims) -> entries.add(new SafetensorsWriter.Entry(name, shape.dtype, dims)));

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

    private static byte[] toBytes(float[] values, DType dtype) {
        return dev.fedprune.aggregation.format.Tensors.fromFloats(values, dtype);
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
