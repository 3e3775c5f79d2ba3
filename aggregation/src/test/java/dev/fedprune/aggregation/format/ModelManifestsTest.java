package dev.fedprune.aggregation.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Manifests of single-file and sharded checkpoints: the same weights are the same model, every file is hashed right. */
class ModelManifestsTest {
    @TempDir
    Path dir;

    static final SyntheticLlama.Shape SHAPE = new SyntheticLlama.Shape(2, 32, 64, 4, 2, 50, 32, false, DType.BF16);

    @Test
    void theSameWeightsShardedOrNotAreTheSameModel() throws Exception {
        Path single = dir.resolve("single");
        Path sharded = dir.resolve("sharded");
        SyntheticLlama.writeSharded(single, SHAPE, 4, 1, SyntheticLlama.Progress.NONE);
        SyntheticLlama.writeSharded(sharded, SHAPE, 4, 3, SyntheticLlama.Progress.NONE);
        ModelManifest a = ModelManifests.describe(single);
        ModelManifest b = ModelManifests.describe(sharded);
        assertEquals(a.modelId(), b.modelId());
        assertEquals(a.tensors().stream().map(ModelManifest.TensorEntry::sha256).toList(),
                b.tensors().stream().map(ModelManifest.TensorEntry::sha256).toList());
        assertEquals(List.of("config.json", "model.safetensors"), a.files().stream().map(ModelManifest.ModelFile::path).toList());
        assertEquals(List.of("config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"), b.files().stream().map(ModelManifest.ModelFile::path).toList());
        for (ModelManifest.ModelFile f : b.files()) {
            assertEquals(Digests.sha256Hex(sharded.resolve(f.path())), f.sha256(), f.path());
            assertEquals(Files.size(sharded.resolve(f.path())), f.sizeBytes(), f.path());
        }
        try (SafetensorsFile shard = SafetensorsFile.open(sharded.resolve("model-00002-of-00003.safetensors"))) {
            for (TensorInfo info : shard.tensors().values()) {
                assertEquals(shard.sha256(info.name()), b.tensorsByName().get(info.name()).sha256(), info.name());
            }
        }
    }

    @Test
    void anIndexThatDisagreesWithItsShardsIsRefusedNamingTheTensor() throws Exception {
        Path sharded = dir.resolve("bad");
        SyntheticLlama.writeSharded(sharded, SHAPE, 4, 2, SyntheticLlama.Progress.NONE);
        Path index = sharded.resolve(Checkpoint.INDEX);
        tools.jackson.databind.json.JsonMapper json = tools.jackson.databind.json.JsonMapper.builder().build();
        String original = Files.readString(index);
        tools.jackson.databind.node.ObjectNode root = (tools.jackson.databind.node.ObjectNode) json.readTree(original);
        ((tools.jackson.databind.node.ObjectNode) root.get("weight_map")).put("model.norm.weight", "model-00001-of-00002.safetensors");
        Files.writeString(index, json.writeValueAsString(root));
        FormatException e = assertThrows(FormatException.class, () -> ModelManifests.describe(sharded));
        assertTrue(e.getMessage().contains("weight_map.model.norm.weight names model-00001-of-00002.safetensors but the tensor is in model-00002-of-00002.safetensors"),
                e.getMessage());
        root = (tools.jackson.databind.node.ObjectNode) json.readTree(original);
        ((tools.jackson.databind.node.ObjectNode) root.get("weight_map")).put("model.norm.weight", "../elsewhere.safetensors");
        Files.writeString(index, json.writeValueAsString(root));
        e = assertThrows(FormatException.class, () -> ModelManifests.describe(sharded));
        assertTrue(e.getMessage().contains("must name a .safetensors file in the model directory"), e.getMessage());
    }
}
