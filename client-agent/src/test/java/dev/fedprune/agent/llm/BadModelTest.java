package dev.fedprune.agent.llm;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad checkpoints fail at open with a message naming the file and the field or tensor. */
class BadModelTest {
    @TempDir
    Path dir;

    private String openError() {
        return assertThrows(InvalidModelException.class, () -> LlamaModel.open(dir).close()).getMessage();
    }

    @Test
    void missingAndInconsistentConfigFields() throws Exception {
        SyntheticLlama.write(dir, SyntheticLlama.Shape.tiny(), 1);
        Path config = dir.resolve("config.json");
        String good = Files.readString(config);
        Files.writeString(config, good.replace("\"hidden_size\": 64,", ""));
        String m = openError();
        assertTrue(m.contains("config.json") && m.contains("missing field hidden_size"), m);
        Files.writeString(config, good.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        m = openError();
        assertTrue(m.contains("num_key_value_heads 3 does not divide num_attention_heads 4"), m);
        Files.writeString(config, good.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""));
        m = openError();
        assertTrue(m.contains("hidden_act 'gelu'"), m);
        Files.writeString(config, good.replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""));
        m = openError();
        assertTrue(m.contains("model_type 'gpt2'"), m);
        Files.writeString(config, good.replace("\"intermediate_size\": 172", "\"intermediate_size\": 170"));
        m = openError();
        assertTrue(m.contains("model.safetensors") && m.contains("mlp.gate_proj.weight") && m.contains("[170, 64]"), m);
        Files.writeString(config, good.replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false"));
        m = openError();
        assertTrue(m.contains("'lm_head.weight' is missing") && m.contains("tie_word_embeddings=false"), m);
    }

    @Test
    void missingTensorAndDtypeMismatch() throws Exception {
        SyntheticLlama.write(dir, SyntheticLlama.Shape.tiny(), 1);
        Path other = dir.resolve("other");
        SyntheticLlama.write(other, SyntheticLlama.Shape.tiny(), 1);
        try (var file = dev.fedprune.aggregation.format.SafetensorsFile.open(other.resolve("model.safetensors"))) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (var info : file.tensors().values()) {
                if (info.name().equals("model.layers.1.mlp.up_proj.weight")) {
                    continue;
                }
                DType d = info.name().equals("model.layers.0.self_attn.k_proj.weight") ? DType.F16 : DType.F32;
                entries.add(new SafetensorsWriter.Entry(info.name(), d, info.shape()));
            }
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("model.safetensors"), entries, Map.of())) {
                for (SafetensorsWriter.Entry e : entries) {
                    w.write(e.name(), ByteBuffer.wrap(dev.fedprune.aggregation.format.Tensors.fromFloats(file.floats(e.name()), e.dtype())));
                }
            }
        }
        String m = openError();
        assertTrue(m.contains("model.layers.0.self_attn.k_proj.weight") && m.contains("dtype F16") && m.contains("F32"), m);
    }

    @Test
    void missingWeightsFile() throws Exception {
        SyntheticLlama.write(dir, SyntheticLlama.Shape.tiny(), 1);
        Files.delete(dir.resolve("model.safetensors"));
        String m = openError();
        assertTrue(m.contains("model.safetensors") && m.contains("model.safetensors.index.json"), m);
    }
}
