package dev.fedprune.agent.prune;

import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.agent.llm.SafetensorsStream;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams a pruned model directory as layers finish: {@code config.json} and tokenizer files copied,
 * {@code model.safetensors} with the pruned weights in the input dtype (all other tensors copied byte
 * for byte), and {@code masks.safetensors} with one bit-packed prune mask per pruned tensor (U8, the
 * {@code BitMask} wire form: bit i of the row-major flat index, LSB first, 1 = pruned).
 */
public final class PrunedModelWriter implements SequentialPruner.LayerSink, AutoCloseable {
    public static final String MASKS = "masks.safetensors";
    static final List<String> COPIED = List.of(LlamaConfig.FILE, "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "generation_config.json");

    private final LlamaModel model;
    private final Checkpoint source;
    private final SafetensorsStream weights;
    private final SafetensorsStream masks;
    private final List<List<String>> layerTensors = new ArrayList<>();
    private final List<String> tail = new ArrayList<>();
    private int nextLayer;

    public PrunedModelWriter(LlamaModel model, Path outDir, Map<String, String> metadata) throws IOException {
        this.model = model;
        this.source = model.checkpoint();
        Path in = source.dir().toAbsolutePath().normalize();
        Path out = outDir.toAbsolutePath().normalize();
        if (in.equals(out)) {
            throw new IllegalArgumentException("--out " + outDir + " is the input model directory; choose another");
        }
        Files.createDirectories(outDir);
        for (String f : COPIED) {
            if (Files.isRegularFile(source.dir().resolve(f))) {
                Files.copy(source.dir().resolve(f), outDir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        int layers = model.config().layers();
        for (int l = 0; l < layers; l++) {
            layerTensors.add(new ArrayList<>());
        }
        List<String> head = new ArrayList<>();
        for (TensorInfo info : source.infos()) {
            String name = info.name();
            int layer = layerOf(name);
            if (layer >= 0 && layer < layers) {
                layerTensors.get(layer).add(name);
            } else if (name.equals(LlamaModel.FINAL_NORM) || name.equals(LlamaModel.LM_HEAD)) {
                tail.add(name);
            } else {
                head.add(name);
            }
        }
        // Within a layer the seven projections come first, in the order the pruner produces them.
        for (int l = 0; l < layers; l++) {
            List<String> sorted = new ArrayList<>();
            for (Projection p : Projection.values()) {
                sorted.add(p.weightName(l));
            }
            for (String name : layerTensors.get(l)) {
                if (!sorted.contains(name)) {
                    sorted.add(name);
                }
            }
            layerTensors.set(l, sorted);
        }
        List<String> order = new ArrayList<>(head);
        layerTensors.forEach(order::addAll);
        order.addAll(tail);
        List<SafetensorsStream.Entry> entries = new ArrayList<>();
        List<SafetensorsStream.Entry> maskEntries = new ArrayList<>();
        Map<String, String> maskMeta = new LinkedHashMap<>(metadata);
        maskMeta.put("format", "fedprune-bitmask");
        maskMeta.put("bits", "bit i = row-major flat index i of the weight, LSB first; 1 = pruned");
        for (String name : order) {
            TensorInfo info = source.info(name);
            entries.add(new SafetensorsStream.Entry(name, info.dtype(), info.shape()));
            if (PrunableTensors.isPrunable(name)) {
                maskEntries.add(new SafetensorsStream.Entry(name, DType.U8, new long[] {(info.elementCount() + 7) / 8}));
                maskMeta.put(name, Arrays.toString(info.shape()));
            }
        }
        Map<String, String> weightMeta = new LinkedHashMap<>();
        weightMeta.put("format", "pt");
        weightMeta.putAll(metadata);
        this.weights = SafetensorsStream.create(outDir.resolve(Checkpoint.SINGLE), entries, weightMeta);
        this.masks = SafetensorsStream.create(outDir.resolve(MASKS), maskEntries, maskMeta);
        for (String name : head) {
            weights.copy(name, source);
        }
    }

    private static int layerOf(String name) {
        if (!name.startsWith("model.layers.")) {
            return -1;
        }
        int end = name.indexOf('.', "model.layers.".length());
        try {
            return Integer.parseInt(name.substring("model.layers.".length(), end));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    @Override
    public void tensor(int layer, Projection projection, float[] values, BitMask mask) throws IOException {
        if (layer != nextLayer) {
            throw new IllegalStateException("layer " + layer + " arrived, expected " + nextLayer);
        }
        String name = projection.weightName(layer);
        weights.writeFloats(name, values);
        masks.writeBytes(name, mask.toBytes());
    }

    @Override
    public void layerDone(SequentialPruner.LayerResult result) throws IOException {
        for (String name : layerTensors.get(result.layer())) {
            if (!PrunableTensors.isPrunable(name)) {
                weights.copy(name, source);
            }
        }
        nextLayer++;
    }

    /** Writes the final norm and LM head and completes both files. */
    @Override
    public void close() throws IOException {
        try {
            if (nextLayer == model.config().layers()) {
                for (String name : tail) {
                    weights.copy(name, source);
                }
            }
            weights.close();
        } finally {
            masks.close();
        }
    }
}
