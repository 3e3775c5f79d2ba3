package dev.fedprune.aggregation.format;

import dev.fedprune.aggregation.model.PrunableTensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Builds the manifest of a Hugging Face model directory: config.json and either model.safetensors or
 * model.safetensors.index.json with its shards. The model id hashes tensor names and contents only, so
 * the same weights sharded differently have the same id.
 */
public final class ModelManifests {
    public static final String CONFIG = "config.json";

    private ModelManifests() {
    }

    public static ModelManifest describe(Path modelDir) throws IOException {
        Path config = modelDir.resolve(CONFIG);
        if (!Files.isRegularFile(config)) {
            throw new FormatException(modelDir + ": missing " + CONFIG);
        }
        String architecture = architecture(config);
        List<ModelManifest.TensorEntry> entries = new ArrayList<>();
        List<ModelManifest.ModelFile> files = new ArrayList<>();
        files.add(file(modelDir, CONFIG));
        try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
            if (checkpoint.sharded()) {
                files.add(file(modelDir, Checkpoint.INDEX));
            }
            Map<String, String> tensorSha = new HashMap<>();
            for (Checkpoint.ShardFile shard : checkpoint.files()) {
                // One read per file gives the file's digest and its tensors'.
                String fileSha = checkpoint.digest(shard, tensorSha);
                files.add(new ModelManifest.ModelFile(shard.fileName(), Files.size(modelDir.resolve(shard.fileName())), fileSha));
            }
            for (TensorInfo info : checkpoint.infos()) {
                entries.add(new ModelManifest.TensorEntry(info.name(), info.dtype(), info.shape(), tensorSha.get(info.name()),
                        PrunableTensors.isPrunable(info.name())));
            }
        }
        entries.sort(Comparator.comparing(ModelManifest.TensorEntry::name));
        MessageDigest id = Digests.sha256();
        for (ModelManifest.TensorEntry e : entries) {
            id.update((e.name() + "=" + e.sha256() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return new ModelManifest(Digests.hex(id.digest()), architecture, entries, files);
    }

    private static ModelManifest.ModelFile file(Path modelDir, String name) throws IOException {
        Path f = modelDir.resolve(name);
        return new ModelManifest.ModelFile(name, Files.size(f), Digests.sha256Hex(f));
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
