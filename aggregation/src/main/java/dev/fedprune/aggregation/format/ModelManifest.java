package dev.fedprune.aggregation.format;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What a model is, independent of where it lives: its tensors (name, dtype, shape, SHA-256 of the
 * raw bytes, whether it is pruned) and its files. Two directories with the same {@link #modelId()}
 * hold the same weights.
 */
public record ModelManifest(String modelId, String architecture, List<TensorEntry> tensors, List<ModelFile> files) {

    public record TensorEntry(String name, DType dtype, long[] shape, String sha256, boolean prunable) {
        public long elementCount() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /** A file of the model directory, by path relative to it. */
    public record ModelFile(String path, long sizeBytes, String sha256) {
    }

    public ModelManifest {
        tensors = List.copyOf(tensors);
        files = List.copyOf(files);
    }

    public Map<String, TensorEntry> tensorsByName() {
        return tensors.stream().collect(Collectors.toMap(TensorEntry::name, Function.identity(), (a, b) -> a, java.util.LinkedHashMap::new));
    }

    public List<TensorEntry> prunableTensors() {
        return tensors.stream().filter(TensorEntry::prunable).toList();
    }
}
