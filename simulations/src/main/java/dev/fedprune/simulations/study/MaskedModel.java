package dev.fedprune.simulations.study;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Writes a copy of a model directory with prune masks applied (for the centralized and local-only baselines). */
final class MaskedModel {
    private MaskedModel() {
    }

    static Path write(Path modelDir, Map<String, BitMask> masks, Path outDir) throws IOException {
        Files.createDirectories(outDir);
        try (var files = Files.list(modelDir)) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(f, outDir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        try (SafetensorsFile in = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            in.tensors().values().forEach(t -> entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape())));
            try (SafetensorsWriter out = SafetensorsWriter.create(outDir.resolve("model.safetensors"), entries, in.metadata())) {
                for (TensorInfo t : in.tensors().values()) {
                    BitMask mask = masks.get(t.name());
                    if (mask == null) {
                        out.write(t.name(), in.bytes(t.name()));
                        continue;
                    }
                    float[] w = in.floats(t.name());
                    for (int i = 0; i < w.length; i++) {
                        if (mask.get(i)) {
                            w[i] = 0f;
                        }
                    }
                    out.write(t.name(), ByteBuffer.wrap(Tensors.fromFloats(w, t.dtype())));
                }
            }
        }
        return outDir;
    }
}
