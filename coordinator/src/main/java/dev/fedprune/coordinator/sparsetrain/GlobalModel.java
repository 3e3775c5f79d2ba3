package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import dev.fedprune.aggregation.sparsetrain.DensityAllocation;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.SparseTrainingSpec;
import dev.fedprune.coordinator.method.GlobalMaskFile;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import tools.jackson.databind.json.JsonMapper;

/**
 * The global sparse CNN of a training job between rounds: the keep-mask of every sparse layer, the
 * weights, the dense tensors (biases, BatchNorm), and the artifacts agents download them as: active
 * weights as sparse tensors, the mask as a MaskSet that is published again only when it changes.
 */
final class GlobalModel {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private final CnnLayout layout;
    private final List<LayerShape> layers;
    private final List<float[]> initialWeights;
    private final Map<String, Long> sparseSizes;
    private final Map<String, Long> denseSizes;
    private final Map<String, Long> allSizes;
    private final ArtifactStore artifacts;

    private Map<String, BitMask> keep;
    private Map<String, float[]> weights;
    private Map<String, float[]> dense;
    private String weightsArtifact;
    private String maskArtifact;

    GlobalModel(CnnLayout layout, long seed, Map<String, Long> sparseSizes, Map<String, Long> denseSizes, Map<String, Long> allSizes,
                ArtifactStore artifacts) {
        this.layout = layout;
        this.layers = layout.sparseLayers();
        this.initialWeights = layout.initialWeights(seed);
        this.sparseSizes = sparseSizes;
        this.denseSizes = denseSizes;
        this.allSizes = allSizes;
        this.artifacts = artifacts;
    }

    List<float[]> initialWeights() {
        return initialWeights;
    }

    /** The keep-mask per sparse layer; null before the initial mask is installed (ABNS). */
    Map<String, BitMask> keep() {
        return keep;
    }

    String weightsArtifact() {
        return weightsArtifact == null ? "" : weightsArtifact;
    }

    String maskArtifact() {
        return maskArtifact == null ? "" : maskArtifact;
    }

    boolean installed() {
        return maskArtifact != null;
    }

    /** A new mask with its weights and dense state; publishes both. */
    void install(Map<String, BitMask> masks, Map<String, float[]> values, Map<String, float[]> denseState) throws IOException {
        keep = new LinkedHashMap<>(masks);
        weights = new LinkedHashMap<>(values);
        dense = new LinkedHashMap<>(denseState);
        maskArtifact = publishMask(keep);
        weightsArtifact = publishWeights(keep, weights, dense);
    }

    /** New weights under the same mask; publishes only the weights. */
    void update(Map<String, float[]> values, Map<String, float[]> denseState) throws IOException {
        weights = values;
        dense = denseState;
        weightsArtifact = publishWeights(keep, weights, dense);
    }

    /** The initial weights with every weight outside {@code masks} zeroed. */
    Map<String, float[]> masked(Map<String, BitMask> masks) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            float[] w = initialWeights.get(l).clone();
            BitMask m = masks.get(layers.get(l).name());
            for (int i = 0; i < w.length; i++) {
                if (!m.get(i)) {
                    w[i] = 0f;
                }
            }
            out.put(layers.get(l).name(), w);
        }
        return out;
    }

    Map<String, BitMask> byName(List<BitMask> masks) {
        Map<String, BitMask> out = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            out.put(layers.get(l).name(), masks.get(l));
        }
        return out;
    }

    float[] weights(String layer) {
        return weights.get(layer);
    }

    float[] dense(String tensor) {
        return dense.get(tensor);
    }

    /** Overall density of the sparse layers. */
    double density() {
        long kept = 0;
        for (BitMask m : keep.values()) {
            kept += m.cardinality();
        }
        return (double) kept / layout.sparseWeightCount();
    }

    /** Sparse layers as their active weights (explicit zeros included), dense tensors in full. */
    String publishWeights(Map<String, BitMask> masks, Map<String, float[]> values, Map<String, float[]> denseState) throws IOException {
        SparseUpdate.Builder update = SparseUpdate.newBuilder();
        for (LayerShape l : layers) {
            update.addTensors(SparseTensorWire.encode(l.name(), active(values.get(l.name()), masks.get(l.name()))));
        }
        for (Map.Entry<String, float[]> e : denseState.entrySet()) {
            update.addTensors(SparseTensorWire.encode(e.getKey(), full(e.getValue())));
        }
        return artifacts.put(update.build().toByteArray()).id();
    }

    /** The keep-masks as prune masks (1 = inactive), each in the smaller of the two encodings. */
    String publishMask(Map<String, BitMask> masks) throws IOException {
        return artifacts.put(MaskWire.encode(pruneMasks(masks)).toByteArray()).id();
    }

    /** Loads the model a closed round published, after a restart. */
    void restore(String maskArtifactId, String weightsArtifactId) throws IOException {
        maskArtifact = maskArtifactId;
        weightsArtifact = weightsArtifactId;
        Map<String, BitMask> pruned = MaskWire.decode("mask", MaskSet.parseFrom(artifacts.read(maskArtifact)), sparseSizes);
        keep = new LinkedHashMap<>();
        pruned.forEach((name, p) -> keep.put(name, complement(p)));
        Map<String, SparseTensor> stored = SparseTensorWire.decode("weights", SparseUpdate.parseFrom(artifacts.read(weightsArtifact)).getTensorsList(), allSizes);
        weights = new LinkedHashMap<>();
        dense = new LinkedHashMap<>();
        sparseSizes.keySet().forEach(name -> weights.put(name, stored.get(name).toDense()));
        denseSizes.keySet().forEach(name -> dense.put(name, stored.get(name).toDense()));
    }

    /** Writes the final model ({@code model/model.safetensors} and {@code config.json}) and the global prune mask. */
    void writeResult(Path resultDir, SparseTrainingSpec spec) throws IOException {
        Path modelOut = resultDir.resolve("model");
        Files.createDirectories(modelOut);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (LayerShape l : layers) {
            entries.add(new SafetensorsWriter.Entry(l.name(), DType.F32, l.shape()));
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            entries.add(new SafetensorsWriter.Entry(t.name(), DType.F32, new long[] {t.size()}));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "fedprune-sparse-cnn");
        metadata.put("architecture", spec.architecture().label());
        try (SafetensorsWriter writer = SafetensorsWriter.create(modelOut.resolve("model.safetensors"), entries, metadata)) {
            for (LayerShape l : layers) {
                writer.write(l.name(), weights.get(l.name()));
            }
            for (CnnLayout.DenseTensor t : layout.denseTensors()) {
                writer.write(t.name(), dense.get(t.name()));
            }
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", spec.architecture().label());
        config.put("imageChannels", spec.imageChannels());
        config.put("imageSide", spec.imageSide());
        config.put("classes", spec.classes());
        if (spec.architecture().takesChannels()) {
            config.put("channels", spec.channels());
        } else {
            config.put("width", spec.width());
        }
        Files.writeString(modelOut.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        GlobalMaskFile.write(resultDir.resolve("global-mask.safetensors"), pruneMasks(keep));
    }

    /**
     * FedMef's initial mask [P]: in every sparse layer, ERK's number of kept weights at positions drawn
     * uniformly at random (a seeded partial Fisher-Yates shuffle per layer), whatever the initial weights.
     */
    static Map<String, BitMask> randomErkMasks(List<LayerShape> layers, double density, long seed) {
        int[] kept = DensityAllocation.keptCounts(layers, DensityAllocation.erk(layers, density), DensityAllocation.budget(layers, density));
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (int l = 0; l < layers.size(); l++) {
            int n = (int) layers.get(l).weightCount();
            int[] order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            SplittableRandom random = new SplittableRandom(seed * 1_000_003L + l);
            BitMask keep = new BitMask(n);
            for (int i = 0; i < kept[l]; i++) {
                int j = i + random.nextInt(n - i);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
                keep.set(order[i]);
            }
            masks.put(layers.get(l).name(), keep);
        }
        return masks;
    }

    static Map<String, BitMask> pruneMasks(Map<String, BitMask> keepMasks) {
        Map<String, BitMask> out = new LinkedHashMap<>();
        keepMasks.forEach((name, k) -> out.put(name, complement(k)));
        return out;
    }

    static BitMask complement(BitMask mask) {
        BitMask out = new BitMask(mask.length());
        for (long i = 0; i < mask.length(); i++) {
            if (!mask.get(i)) {
                out.set(i);
            }
        }
        return out;
    }

    static SparseTensor active(float[] values, BitMask keep) {
        int n = (int) keep.cardinality();
        int[] indices = new int[n];
        float[] v = new float[n];
        for (int i = 0, j = 0; i < values.length; i++) {
            if (keep.get(i)) {
                indices[j] = i;
                v[j++] = values[i];
            }
        }
        return new SparseTensor(values.length, indices, v);
    }

    static SparseTensor full(float[] values) {
        int[] indices = new int[values.length];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = i;
        }
        return new SparseTensor(values.length, indices, values.clone());
    }
}
