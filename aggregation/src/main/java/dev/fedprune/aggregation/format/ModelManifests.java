package dev.fedprune.aggregation.format;

import dev.fedprune.aggregation.model.PrunableTensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Builds the manifest of a Hugging Face model directory (config.json + model.safetensors). */
public final class ModelManifests {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";

    private ModelManifests() {
    }

    public static ModelManifest describe(Path modelDir) throws IOException {
        Path config = modelDir.resolve(CONFIG);
        Path weights = modelDir.resolve(WEIGHTS);
        if (!Files.isRegularFile(config)) {
            throw new FormatException(modelDir + ": missing " + CONFIG);
        }
        if (!Files.isRegularFile(weights)) {
            throw new FormatException(modelDir + ": missing " + WEIGHTS + " (sharded checkpoints are not supported by the coordinator yet)");
        }
        String architecture = architecture(config);
        List<ModelManifest.TensorEntry> entries = new ArrayList<>();
        try (SafetensorsFile file = SafetensorsFile.open(weights)) {
            for (TensorInfo info : file.tensors().values()) {
                entries.add(new ModelManifest.TensorEntry(info.name(), info.dtype(), info.shape(), file.sha256(info.name()),
                        PrunableTensors.isPrunable(info.name())));
            }
        }
        entries.sort(Comparator.comparing(ModelManifest.TensorEntry::name));
        MessageDigest id = Digests.sha256();
        for (ModelManifest.TensorEntry e : entries) {
            id.update((e.name() + "=" + e.sha256() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        List<ModelManifest.ModelFile> files = List.of(
                new ModelManifest.ModelFile(CONFIG, Files.size(config), Digests.sha256Hex(config)),
                new ModelManifest.ModelFile(WEIGHTS, Files.size(weights), Digests.sha256Hex(weights)));
        return new ModelManifest(Digests.hex(id.digest()), architecture, entries, files);
    }

    private static String architecture(Path config) throws IOException {
        JsonNode node;
        try {
            node = JsonMapper.builder().build().readTree(Files.readString(config));
        } catch (tools.jackson.core.JacksonException e) {
            throw new FormatException(config + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode arch = node.path("architectures");
        if (arch.isArray() && !arch.isEmpty()) {
            return arch.get(0).asString();
        }
        return node.path("model_type").asString("unknown");
    }
}
