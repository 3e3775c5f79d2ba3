package dev.fedprune.agent.llm;

import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * A LLaMA-family checkpoint opened for layer-streaming use: the configuration plus lazy access to each
 * decoder layer's weights. Opening validates every tensor's presence, shape and dtype against the
 * configuration, so that a bad checkpoint fails before any long work starts.
 */
public final class LlamaModel implements AutoCloseable {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private final LlamaConfig config;
    private final Checkpoint checkpoint;
    private final DType weightDtype;

    private LlamaModel(LlamaConfig config, Checkpoint checkpoint, DType weightDtype) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.weightDtype = weightDtype;
    }

    public static LlamaModel open(Path modelDir) throws IOException {
        LlamaConfig config = LlamaConfig.load(modelDir);
        Checkpoint checkpoint;
        try {
            checkpoint = Checkpoint.open(modelDir);
        } catch (FormatException e) {
            throw new InvalidModelException(e.getMessage(), e);
        }
        try {
            DType dtype = validate(config, checkpoint);
            return new LlamaModel(config, checkpoint, dtype);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    private static DType validate(LlamaConfig c, Checkpoint ckpt) {
        DType[] dtype = {null};
        Path config = ckpt.dir().resolve(LlamaConfig.FILE);
        java.util.function.BiConsumer<String, long[]> expect = (name, shape) -> {
            if (!ckpt.has(name)) {
                throw new InvalidModelException(ckpt.dir() + ": tensor '" + name + "' is missing from the checkpoint"
                        + (name.equals(LM_HEAD) ? " (" + config + " has tie_word_embeddings=false)" : ""));
            }
            TensorInfo info = ckpt.info(name);
            if (!Arrays.equals(info.shape(), shape)) {
                throw new InvalidModelException(ckpt.fileOf(name) + ": tensor '" + name + "' has shape " + Arrays.toString(info.shape())
                        + " but " + config + " implies " + Arrays.toString(shape));
            }
            DType d = info.dtype();
            if (d != DType.F32 && d != DType.F16 && d != DType.BF16) {
                throw new InvalidModelException(ckpt.fileOf(name) + ": tensor '" + name + "' has dtype " + d + "; expected F32, F16 or BF16");
            }
            if (dtype[0] == null) {
                dtype[0] = d;
            } else if (dtype[0] != d) {
                throw new InvalidModelException(ckpt.fileOf(name) + ": tensor '" + name + "' has dtype " + d + " but earlier tensors are " + dtype[0]
                        + " (dtype mismatch)");
            }
        };
        long h = c.hiddenSize();
        expect.accept(EMBED, new long[] {c.vocabSize(), h});
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            expect.accept(p + "input_layernorm.weight", new long[] {h});
            expect.accept(p + "post_attention_layernorm.weight", new long[] {h});
            for (Projection proj : Projection.values()) {
                expect.accept(proj.weightName(l), new long[] {proj.rows(c), proj.cols(c)});
                if (proj.hasBias(c)) {
                    expect.accept(proj.biasName(l), new long[] {proj.rows(c)});
                }
            }
        }
        expect.accept(FINAL_NORM, new long[] {h});
        if (!c.tieWordEmbeddings()) {
            expect.accept(LM_HEAD, new long[] {c.vocabSize(), h});
        }
        return dtype[0];
    }

    public LlamaConfig config() {
        return config;
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** The dtype shared by the checkpoint's weights. */
    public DType weightDtype() {
        return weightDtype;
    }

    public String lmHeadName() {
        return config.tieWordEmbeddings() ? EMBED : LM_HEAD;
    }

    public LayerWeights loadLayer(int layer) throws IOException {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " outside 0.." + (config.layers() - 1));
        }
        String p = "model.layers." + layer + ".";
        Map<Projection, float[]> weights = new EnumMap<>(Projection.class);
        Map<Projection, float[]> biases = new EnumMap<>(Projection.class);
        for (Projection proj : Projection.values()) {
            weights.put(proj, checkpoint.readFloats(proj.weightName(layer)));
            if (proj.hasBias(config)) {
                biases.put(proj, checkpoint.readFloats(proj.biasName(layer)));
            }
        }
        return new LayerWeights(layer, checkpoint.readFloats(p + "input_layernorm.weight"),
                checkpoint.readFloats(p + "post_attention_layernorm.weight"), weights, biases);
    }

    /** A layer's norms and biases without its seven projection weights, which callers stream one at a time. */
    public LayerWeights loadLayerShell(int layer) throws IOException {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " outside 0.." + (config.layers() - 1));
        }
        String p = "model.layers." + layer + ".";
        Map<Projection, float[]> biases = new EnumMap<>(Projection.class);
        for (Projection proj : Projection.values()) {
            if (proj.hasBias(config)) {
                biases.put(proj, checkpoint.readFloats(proj.biasName(layer)));
            }
        }
        return new LayerWeights(layer, checkpoint.readFloats(p + "input_layernorm.weight"),
                checkpoint.readFloats(p + "post_attention_layernorm.weight"), new EnumMap<>(Projection.class), biases);
    }

    /** One projection weight, {@code [rows, cols]} row-major floats. */
    public float[] loadWeight(int layer, Projection projection) throws IOException {
        return checkpoint.readFloats(projection.weightName(layer));
    }

    /** Embedding rows of the given token ids, {@code [ids.length, hidden]} row-major. */
    public float[] embed(int[] ids) throws IOException {
        return checkpoint.readRows(EMBED, ids);
    }

    @Override
    public void close() throws IOException {
        checkpoint.close();
    }
}
