package dev.fedprune.agent.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Tensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointFormatsTest {
    @TempDir
    Path dir;

    /** Splits a single-file model into two shards plus model.safetensors.index.json, optionally dropping one tensor. */
    static void shard(Path single, Path target, String drop) throws Exception {
        Files.createDirectories(target);
        Files.copy(single.resolve("config.json"), target.resolve("config.json"));
        StringBuilder map = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        try (SafetensorsFile file = SafetensorsFile.open(single.resolve("model.safetensors"))) {
            List<TensorInfo> all = new ArrayList<>(file.tensors().values());
            all.removeIf(t -> t.name().equals(drop));
            int half = all.size() / 2;
            for (int s = 0; s < 2; s++) {
                List<TensorInfo> part = s == 0 ? all.subList(0, half) : all.subList(half, all.size());
                String name = "model-0000" + (s + 1) + "-of-00002.safetensors";
                List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                for (TensorInfo t : part) {
                    entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape()));
                    map.append(map.charAt(map.length() - 1) == '{' ? "" : ", ").append('"').append(t.name()).append("\": \"").append(name).append('"');
                }
                try (SafetensorsWriter w = SafetensorsWriter.create(target.resolve(name), entries, Map.of())) {
                    for (TensorInfo t : part) {
                        w.write(t.name(), ByteBuffer.wrap(Tensors.fromFloats(file.floats(t.name()), t.dtype())));
                    }
                }
            }
        }
        Files.writeString(target.resolve("model.safetensors.index.json"), map.append("}}").toString());
    }

    @Test
    void shardedCheckpointReadsTheSameTensors() throws Exception {
        Path single = dir.resolve("single");
        SyntheticLlama.write(single, SyntheticLlama.Shape.tiny(), 3);
        Path sharded = dir.resolve("sharded");
        shard(single, sharded, null);
        try (LlamaModel a = LlamaModel.open(single); LlamaModel b = LlamaModel.open(sharded)) {
            for (int l = 0; l < 2; l++) {
                for (Projection p : Projection.values()) {
                    assertArrayEquals(a.loadWeight(l, p), b.loadWeight(l, p));
                }
            }
            assertArrayEquals(a.embed(new int[] {5, 1, 258}), b.embed(new int[] {5, 1, 258}));
            assertEquals(2, Files.list(sharded).filter(f -> f.toString().endsWith("-of-00002.safetensors")).count());
        }
    }

    @Test
    void missingTensorInAShardIsNamed() throws Exception {
        Path single = dir.resolve("single");
        SyntheticLlama.write(single, SyntheticLlama.Shape.tiny(), 3);
        Path sharded = dir.resolve("sharded");
        shard(single, sharded, "model.layers.1.mlp.up_proj.weight");
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> LlamaModel.open(sharded).close());
        assertTrue(e.getMessage().contains("'model.layers.1.mlp.up_proj.weight' is missing"), e.getMessage());
    }
}
