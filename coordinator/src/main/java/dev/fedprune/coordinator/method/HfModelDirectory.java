package dev.fedprune.coordinator.method;

import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.format.ModelManifests;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.proto.v1.ModelFile;
import dev.fedprune.proto.v1.TensorEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A Hugging Face model directory on the coordinator (config.json + safetensors), the input of the LLM
 * pruning methods: checked when a job is submitted, then described and registered in the artifact store
 * so that agents download its files.
 */
public final class HfModelDirectory {

    private HfModelDirectory() {
    }

    /** The manifest the engine reports and the one agents receive, with every file registered as an artifact. */
    public record Loaded(ModelManifest manifest, dev.fedprune.proto.v1.ModelManifest wire) {
    }

    /** Refuses, as the spec's {@code model} field, a path that is not a readable model with prunable tensors. */
    public static void check(String modelPath) {
        Path model = Path.of(modelPath);
        if (!Files.isDirectory(model)) {
            throw new InvalidJobSpecException("model", "'" + modelPath + "' is not a directory on the coordinator");
        }
        if (!Files.isRegularFile(model.resolve(ModelManifests.CONFIG))) {
            throw new InvalidJobSpecException("model", "'" + modelPath + "' has no " + ModelManifests.CONFIG);
        }
        try (Checkpoint weights = Checkpoint.open(model)) {
            if (weights.infos().stream().map(TensorInfo::name).noneMatch(PrunableTensors::isPrunable)) {
                throw new InvalidJobSpecException("model", "'" + modelPath + "' has no prunable tensors (model.layers.N.{self_attn,mlp}.*_proj.weight)");
            }
        } catch (FormatException e) {
            throw new InvalidJobSpecException("model", e.getMessage());
        } catch (IOException e) {
            throw new InvalidJobSpecException("model", "cannot read the weights of '" + modelPath + "': " + e.getMessage());
        }
    }

    /** Reads the model's manifest (hashing the weights once) and registers every file of the directory. */
    public static Loaded load(Path modelDir, ArtifactStore artifacts) throws IOException {
        ModelManifest manifest = ModelManifests.describe(modelDir);
        dev.fedprune.proto.v1.ModelManifest.Builder wire = dev.fedprune.proto.v1.ModelManifest.newBuilder()
                .setModelId(manifest.modelId()).setArchitecture(manifest.architecture());
        for (ModelManifest.TensorEntry t : manifest.tensors()) {
            TensorEntry.Builder e = TensorEntry.newBuilder().setName(t.name()).setDtype(wireDType(t.dtype()))
                    .setSha256(t.sha256()).setPrunable(t.prunable());
            for (long d : t.shape()) {
                e.addShape(d);
            }
            wire.addTensors(e);
        }
        Map<String, String> hashed = new HashMap<>();
        manifest.files().forEach(f -> hashed.put(f.path(), f.sha256()));
        try (var files = Files.list(modelDir)) {
            for (Path f : files.sorted().toList()) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().startsWith(".")) {
                    // The weights were hashed by the manifest; only the other files (tokenizer...) are read here.
                    String sha = hashed.containsKey(f.getFileName().toString()) ? hashed.get(f.getFileName().toString()) : Digests.sha256Hex(f);
                    ArtifactStore.Artifact a = artifacts.register(f, sha);
                    wire.addFiles(ModelFile.newBuilder().setPath(f.getFileName().toString()).setSizeBytes(a.sizeBytes())
                            .setSha256(sha).setArtifactId(a.id()));
                }
            }
        }
        return new Loaded(manifest, wire.build());
    }

    private static dev.fedprune.proto.v1.DType wireDType(DType d) {
        return switch (d) {
            case F32 -> dev.fedprune.proto.v1.DType.DTYPE_F32;
            case F16 -> dev.fedprune.proto.v1.DType.DTYPE_F16;
            case BF16 -> dev.fedprune.proto.v1.DType.DTYPE_BF16;
            case F64 -> dev.fedprune.proto.v1.DType.DTYPE_F64;
            case I64 -> dev.fedprune.proto.v1.DType.DTYPE_I64;
            case I32 -> dev.fedprune.proto.v1.DType.DTYPE_I32;
            case U8 -> dev.fedprune.proto.v1.DType.DTYPE_U8;
            case BOOL -> dev.fedprune.proto.v1.DType.DTYPE_BOOL;
            default -> dev.fedprune.proto.v1.DType.DTYPE_UNSPECIFIED;
        };
    }
}
