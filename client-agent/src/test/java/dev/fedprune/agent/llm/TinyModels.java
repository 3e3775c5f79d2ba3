package dev.fedprune.agent.llm;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Writes small random LLaMA-family checkpoints with the architecture options SyntheticLlama lacks. */
public final class TinyModels {
    public record Spec(String modelType, int hidden, int intermediate, int layers, int heads, int kvHeads, Integer headDim,
                       int vocab, int maxPositions, boolean tie, DType dtype, boolean attentionBias, boolean mlpBias) {
        int hd() {
            return headDim != null ? headDim : hidden / heads;
        }
    }

    private TinyModels() {
    }

    public static Spec llamaGqa() {
        return new Spec("llama", 48, 72, 2, 6, 2, null, 61, 24, true, DType.F32, false, false);
    }

    public static Spec qwenBiasUntiedBf16() {
        return new Spec("qwen2", 40, 64, 2, 4, 2, 12, 53, 20, false, DType.BF16, true, false);
    }

    public static Spec llamaAllBiasesF16() {
        return new Spec("llama", 32, 48, 3, 4, 4, null, 37, 16, false, DType.F16, true, true);
    }

    public static void write(Path dir, Spec s, long seed) throws IOException {
        Files.createDirectories(dir);
        int hd = s.hd();
        Map<String, long[]> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight", new long[] {s.vocab, s.hidden});
        boolean qwen = s.modelType.equals("qwen2");
        for (int l = 0; l < s.layers; l++) {
            String p = "model.layers." + l + ".";
            tensors.put(p + "input_layernorm.weight", new long[] {s.hidden});
            tensors.put(p + "self_attn.q_proj.weight", new long[] {(long) s.heads * hd, s.hidden});
            tensors.put(p + "self_attn.k_proj.weight", new long[] {(long) s.kvHeads * hd, s.hidden});
            tensors.put(p + "self_attn.v_proj.weight", new long[] {(long) s.kvHeads * hd, s.hidden});
            if (s.attentionBias) {
                tensors.put(p + "self_attn.q_proj.bias", new long[] {(long) s.heads * hd});
                tensors.put(p + "self_attn.k_proj.bias", new long[] {(long) s.kvHeads * hd});
                tensors.put(p + "self_attn.v_proj.bias", new long[] {(long) s.kvHeads * hd});
            }
            tensors.put(p + "self_attn.o_proj.weight", new long[] {s.hidden, (long) s.heads * hd});
            if (s.attentionBias && !qwen) {
                tensors.put(p + "self_attn.o_proj.bias", new long[] {s.hidden});
            }
            tensors.put(p + "post_attention_layernorm.weight", new long[] {s.hidden});
            tensors.put(p + "mlp.gate_proj.weight", new long[] {s.intermediate, s.hidden});
            tensors.put(p + "mlp.up_proj.weight", new long[] {s.intermediate, s.hidden});
            tensors.put(p + "mlp.down_proj.weight", new long[] {s.hidden, s.intermediate});
            if (s.mlpBias) {
                tensors.put(p + "mlp.gate_proj.bias", new long[] {s.intermediate});
                tensors.put(p + "mlp.up_proj.bias", new long[] {s.intermediate});
                tensors.put(p + "mlp.down_proj.bias", new long[] {s.hidden});
            }
        }
        tensors.put("model.norm.weight", new long[] {s.hidden});
        if (!s.tie) {
            tensors.put("lm_head.weight", new long[] {s.vocab, s.hidden});
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        tensors.forEach((n, d) -> entries.add(new SafetensorsWriter.Entry(n, s.dtype, d)));
        Random random = new Random(seed);
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("model.safetensors"), entries, Map.of("format", "pt"))) {
            for (SafetensorsWriter.Entry e : entries) {
                long[] shape = e.shape();
                int count = 1;
                for (long d : shape) {
                    count *= (int) d;
                }
                boolean norm = e.name().endsWith("norm.weight");
                boolean bias = e.name().endsWith(".bias");
                double std = norm ? 0.1 : bias ? 0.1 : 1.0 / Math.sqrt(shape[shape.length - 1]) * 1.5;
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    v[i] = (float) ((norm ? 1.0 : 0.0) + std * random.nextGaussian());
                }
                w.write(e.name(), ByteBuffer.wrap(Tensors.fromFloats(v, s.dtype)));
            }
        }
        String dtype = switch (s.dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
        Files.writeString(dir.resolve("config.json"), """
            {
              "architectures": ["X"],
              "model_type": "%s",
              "hidden_size": %d,
              "intermediate_size": %d,
              "num_hidden_layers": %d,
              "num_attention_heads": %d,
              "num_key_value_heads": %d,
              %s
              "vocab_size": %d,
              "max_position_embeddings": %d,
              "rms_norm_eps": 1e-06,
              "rope_theta": 500.0,
              "hidden_act": "silu",
              "tie_word_embeddings": %s,
              "attention_bias": %s,
              "mlp_bias": %s,
              "torch_dtype": "%s"
            }
            """.formatted(s.modelType, s.hidden, s.intermediate, s.layers, s.heads, s.kvHeads,
                s.headDim == null ? "" : "\"head_dim\": " + s.headDim + ",", s.vocab, s.maxPositions, s.tie,
                s.attentionBias && !qwen, s.mlpBias, dtype));
    }
}
