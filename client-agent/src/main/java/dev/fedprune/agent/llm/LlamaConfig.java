package dev.fedprune.agent.llm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The architecture of a Hugging Face LLaMA-family decoder (LLaMA 1/2/3, Mistral, Qwen2, TinyLlama), read
 * from its {@code config.json}. Anything the runtime does not implement is rejected with the field name.
 *
 * @param attentionBias bias on q/k/v (Qwen2, or LLaMA's {@code attention_bias})
 * @param outputBias    bias on o_proj (LLaMA's {@code attention_bias}; Qwen2 has none)
 * @param mlpBias       bias on gate/up/down (LLaMA's {@code mlp_bias})
 * @param slidingWindow Mistral's attention window, 0 when there is none
 */
public record LlamaConfig(String modelType, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                          int headDim, int vocabSize, int maxPositions, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings, boolean attentionBias,
                          boolean outputBias, boolean mlpBias, int slidingWindow, String torchDtype) {

    public static final String FILE = "config.json";
    private static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");

    /** Llama 3 style or linear RoPE frequency scaling; {@code type} "none" when absent. */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositions) {
        public static final RopeScaling NONE = new RopeScaling("none", 1, 1, 1, 0);
    }

    public int kvGroups() {
        return heads / kvHeads;
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public static LlamaConfig load(Path modelDir) throws IOException {
        Path file = modelDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new InvalidModelException(modelDir + ": missing " + FILE);
        }
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(Files.readString(file));
        } catch (JacksonException e) {
            throw new InvalidModelException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidModelException(file + ": must be a JSON object");
        }
        return parse(file, root);
    }

    static LlamaConfig parse(Path file, JsonNode root) {
        String modelType = text(file, root, "model_type", null);
        if (!MODEL_TYPES.contains(modelType)) {
            throw new InvalidModelException(file + ": model_type '" + modelType + "' is not supported; expected one of llama, mistral, qwen2");
        }
        int hidden = positiveInt(file, root, "hidden_size", null);
        int intermediate = positiveInt(file, root, "intermediate_size", null);
        int layers = positiveInt(file, root, "num_hidden_layers", null);
        int heads = positiveInt(file, root, "num_attention_heads", null);
        int kvHeads = positiveInt(file, root, "num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw new InvalidModelException(file + ": num_key_value_heads " + kvHeads + " does not divide num_attention_heads " + heads);
        }
        Integer defaultHeadDim = hidden % heads == 0 ? hidden / heads : null;
        if (defaultHeadDim == null && (!root.has("head_dim") || root.get("head_dim").isNull())) {
            throw new InvalidModelException(file + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads + " and head_dim is missing");
        }
        int headDim = positiveInt(file, root, "head_dim", defaultHeadDim);
        if (headDim % 2 != 0) {
            throw new InvalidModelException(file + ": head_dim " + headDim + " must be even for rotary embeddings");
        }
        int vocab = positiveInt(file, root, "vocab_size", null);
        int maxPositions = positiveInt(file, root, "max_position_embeddings", null);
        double eps = number(file, root, "rms_norm_eps", 1e-6);
        double theta = number(file, root, "rope_theta", 10000.0);
        if (!(eps > 0) || !(theta > 0)) {
            throw new InvalidModelException(file + ": rms_norm_eps and rope_theta must be positive");
        }
        String act = text(file, root, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new InvalidModelException(file + ": hidden_act '" + act + "' is not supported; only silu (SwiGLU)");
        }
        boolean tie = bool(file, root, "tie_word_embeddings", false);
        boolean qwen = modelType.equals("qwen2");
        boolean attnBias = qwen || bool(file, root, "attention_bias", false);
        boolean outBias = !qwen && bool(file, root, "attention_bias", false);
        boolean mlpBias = bool(file, root, "mlp_bias", false);
        int window = 0;
        if (modelType.equals("mistral") && root.has("sliding_window") && !root.get("sliding_window").isNull()) {
            window = positiveInt(file, root, "sliding_window", null);
        }
        if (qwen && bool(file, root, "use_sliding_window", false)) {
            throw new InvalidModelException(file + ": use_sliding_window=true is not supported");
        }
        String dtype = root.has("torch_dtype") ? root.get("torch_dtype").asString() : "float32";
        return new LlamaConfig(modelType, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, maxPositions,
                eps, theta, ropeScaling(file, root), tie, attnBias, outBias, mlpBias, window, dtype);
    }

    private static RopeScaling ropeScaling(Path file, JsonNode root) {
        JsonNode node = root.get("rope_scaling");
        if (node == null || node.isNull()) {
            return RopeScaling.NONE;
        }
        String type = node.has("rope_type") ? node.get("rope_type").asString() : node.path("type").asString("");
        return switch (type) {
            case "default" -> RopeScaling.NONE;
            case "linear" -> new RopeScaling("linear", number(file, node, "factor", null), 1, 1, 0);
            case "llama3" -> new RopeScaling("llama3", number(file, node, "factor", null),
                    number(file, node, "low_freq_factor", null), number(file, node, "high_freq_factor", null),
                    positiveInt(file, node, "original_max_position_embeddings", null));
            default -> throw new InvalidModelException(file + ": rope_scaling type '" + type + "' is not supported; expected linear or llama3");
        };
    }

    private static String text(Path file, JsonNode root, String field, String fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            if (fallback == null) {
                throw new InvalidModelException(file + ": missing field " + field);
            }
            return fallback;
        }
        if (!n.isString()) {
            throw new InvalidModelException(file + ": field " + field + " must be a string, got " + n);
        }
        return n.asString();
    }

    private static int positiveInt(Path file, JsonNode root, String field, Integer fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            if (fallback == null) {
                throw new InvalidModelException(file + ": missing field " + field);
            }
            return fallback;
        }
        if (!n.isIntegralNumber() || n.asLong() <= 0 || n.asLong() > Integer.MAX_VALUE) {
            throw new InvalidModelException(file + ": field " + field + " must be a positive integer, got " + n);
        }
        return n.asInt();
    }

    private static double number(Path file, JsonNode root, String field, Double fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            if (fallback == null) {
                throw new InvalidModelException(file + ": missing field " + field);
            }
            return fallback;
        }
        if (!n.isNumber()) {
            throw new InvalidModelException(file + ": field " + field + " must be a number, got " + n);
        }
        return n.asDouble();
    }

    private static boolean bool(Path file, JsonNode root, String field, boolean fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new InvalidModelException(file + ": field " + field + " must be true or false, got " + n);
        }
        return n.asBoolean();
    }
}
