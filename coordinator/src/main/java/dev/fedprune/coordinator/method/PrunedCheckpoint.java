package dev.fedprune.coordinator.method;

import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the pruned model beside the original's layout: the same weights files (one
 * {@code model.safetensors}, or the same shards with the same tensors in the same order, so the
 * original index still describes them), every dtype kept, and every other file of the model directory
 * (config, index, tokenizer, generation config) copied. Pruned tensors come from the given safetensors
 * files (the rounds' output of an LLM pruning method), the rest from the original; tensors are copied
 * file to file, never held in memory. Shared by the LLM methods, beside {@link HfModelDirectory} which
 * reads their input.
 */
public final class PrunedCheckpoint {
    private PrunedCheckpoint() {
    }

    public static void write(Path modelDir, List<Path> prunedFiles, Path out) throws IOException {
        Files.createDirectories(out);
        try (var files = Files.list(modelDir)) {
            for (Path f : files.sorted().toList()) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.endsWith(".safetensors") && !n.startsWith(".")) {
                    Files.copy(f, out.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        List<SafetensorsFile> pruned = new ArrayList<>();
        Map<String, SafetensorsFile> prunedByName = new HashMap<>();
        try (Checkpoint original = Checkpoint.open(modelDir)) {
            for (Path p : prunedFiles) {
                SafetensorsFile f = SafetensorsFile.open(p);
                pruned.add(f);
                f.tensors().keySet().forEach(name -> prunedByName.put(name, f));
            }
            for (Checkpoint.ShardFile shard : original.files()) {
                List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                for (TensorInfo info : shard.tensors()) {
                    entries.add(new SafetensorsWriter.Entry(info.name(), info.dtype(), info.shape()));
                }
                try (SafetensorsWriter writer = SafetensorsWriter.create(out.resolve(shard.fileName()), entries, shard.metadata())) {
                    for (TensorInfo info : shard.tensors()) {
                        SafetensorsFile source = prunedByName.get(info.name());
                        if (source != null) {
                            writer.copy(info.name(), source);
                        } else {
                            writer.copy(info.name(), original);
                        }
                    }
                }
            }
        } finally {
            for (SafetensorsFile f : pruned) {
                f.close();
            }
        }
    }
}
