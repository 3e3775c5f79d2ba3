package dev.fedprune.aggregation.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class SyntheticLlamaShardsTest {
    /** Untied BF16 with an embedding of more than one fill block, so that blocks and lm_head are both exercised. */
    static final SyntheticLlama.Shape SHAPE = new SyntheticLlama.Shape(3, 64, 96, 4, 2, 66_000, 32, false, DType.BF16);

    @TempDir
    Path dir;

    @Test
    void shardsHoldTheSameTensorsAsTheSingleFileOfTheSameSeed() throws Exception {
        Path single = dir.resolve("single");
        Path sharded = dir.resolve("sharded");
        assertEquals(List.of(single.resolve("model.safetensors")), SyntheticLlama.writeSharded(single, SHAPE, 7, 1, SyntheticLlama.Progress.NONE));
        List<Path> files = SyntheticLlama.writeSharded(sharded, SHAPE, 7, 3, SyntheticLlama.Progress.NONE);
        assertFalse(Files.exists(single.resolve(SyntheticLlama.SHARD_INDEX)));
        assertEquals(List.of("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"),
                files.stream().map(f -> f.getFileName().toString()).toList());

        JsonNode index = JsonMapper.builder().build().readTree(Files.readString(sharded.resolve(SyntheticLlama.SHARD_INDEX)));
        Map<String, String> weightMap = new LinkedHashMap<>();
        index.get("weight_map").properties().forEach(e -> weightMap.put(e.getKey(), e.getValue().asString()));
        List<String> names = SHAPE.tensors().stream().map(SafetensorsWriter.Entry::name).toList();
        assertEquals(names, new ArrayList<>(weightMap.keySet()), "Hugging Face order: embed_tokens, layers, norm, lm_head");
        assertEquals("model.embed_tokens.weight", names.get(0));
        assertEquals("lm_head.weight", names.get(names.size() - 1));
        assertEquals(SHAPE.tensors().stream().mapToLong(SafetensorsWriter.Entry::byteSize).sum(), index.get("metadata").get("total_size").asLong());

        List<String> fileOrder = new ArrayList<>(weightMap.values());
        List<String> sorted = new ArrayList<>(fileOrder);
        Collections.sort(sorted);
        assertEquals(sorted, fileOrder, "each shard holds consecutive tensors");

        try (SafetensorsFile whole = SafetensorsFile.open(single.resolve("model.safetensors"))) {
            assertEquals(names, new ArrayList<>(whole.tensors().keySet()));
            for (Path file : files) {
                try (SafetensorsFile shard = SafetensorsFile.open(file)) {
                    assertFalse(shard.tensors().isEmpty(), file + " is empty");
                    assertEquals("pt", shard.metadata().get("format"));
                    for (String name : shard.tensors().keySet()) {
                        assertEquals(file.getFileName().toString(), weightMap.get(name));
                        assertEquals(whole.info(name).dtype(), shard.info(name).dtype(), name);
                        assertEquals(java.util.Arrays.toString(whole.info(name).shape()), java.util.Arrays.toString(shard.info(name).shape()), name);
                        assertEquals(whole.bytes(name), shard.bytes(name), name);
                    }
                }
            }
        }
        assertEquals(Files.readString(single.resolve("config.json")), Files.readString(sharded.resolve("config.json")));
        assertTrue(Files.readString(sharded.resolve("config.json")).contains("\"tie_word_embeddings\": false"));
    }

    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() throws Exception {
        SyntheticLlama.Shape shape = SyntheticLlama.Shape.tiny();
        SyntheticLlama.writeSharded(dir.resolve("a"), shape, 1, 2, SyntheticLlama.Progress.NONE);
        SyntheticLlama.writeSharded(dir.resolve("b"), shape, 1, 2, SyntheticLlama.Progress.NONE);
        SyntheticLlama.writeSharded(dir.resolve("c"), shape, 2, 2, SyntheticLlama.Progress.NONE);
        for (String file : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")) {
            byte[] a = Files.readAllBytes(dir.resolve("a").resolve(file));
            assertEquals(java.nio.ByteBuffer.wrap(a), java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("b").resolve(file))));
            assertNotEquals(java.nio.ByteBuffer.wrap(a), java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("c").resolve(file))));
        }
    }

    @Test
    void shardsSplitAtTensorBoundariesIntoRoughlyEqualBytes() {
        List<SafetensorsWriter.Entry> tensors = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            tensors.add(new SafetensorsWriter.Entry("t" + i, DType.F32, new long[] {100}));
        }
        assertEquals(List.of(0, 0, 0, 0, 0, 1, 1, 1, 1, 1), asList(SyntheticLlama.assignShards(tensors, 2)));
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), asList(SyntheticLlama.assignShards(tensors, 10)));
        // a tensor larger than a shard's share does not leave the next shard empty
        tensors.add(0, new SafetensorsWriter.Entry("big", DType.F32, new long[] {5000}));
        int[] shards = SyntheticLlama.assignShards(tensors, 3);
        assertEquals(List.of(0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2), asList(shards));
        assertThrows(IllegalArgumentException.class, () -> SyntheticLlama.assignShards(tensors, 12));
        assertThrows(IllegalArgumentException.class, () -> SyntheticLlama.assignShards(tensors, 0));
    }

    @Test
    void fillHasTheRequestedMeanAndSpread() {
        float[] values = SyntheticLlama.fillBlock(42, 0, 1 << 20, 0f, 0.02);
        double sum = 0;
        double squares = 0;
        for (float v : values) {
            sum += v;
            squares += (double) v * v;
        }
        double mean = sum / values.length;
        double std = Math.sqrt(squares / values.length - mean * mean);
        assertEquals(0, mean, 1e-4);
        assertEquals(0.02, std, 0.02 * 0.01);
    }

    private static List<Integer> asList(int[] values) {
        return java.util.Arrays.stream(values).boxed().toList();
    }
}
