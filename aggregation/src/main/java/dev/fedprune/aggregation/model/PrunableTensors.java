package dev.fedprune.aggregation.model;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which tensors of a Hugging Face LLaMA-family checkpoint are pruned: the seven linear weights inside
 * each decoder layer. Embeddings, norms and the LM head stay dense.
 */
public final class PrunableTensors {
    private static final Pattern LINEAR = Pattern.compile(
            "^model\\.layers\\.(\\d+)\\.(self_attn\\.(q|k|v|o)_proj|mlp\\.(gate|up|down)_proj)\\.weight$");

    /** The seven projection names of one decoder layer, in the order the layer computes them. */
    public static final String[] PROJECTIONS = {
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"
    };

    private PrunableTensors() {
    }

    public static boolean isPrunable(String tensorName) {
        return LINEAR.matcher(tensorName).matches();
    }

    /** The decoder layer a prunable tensor belongs to, or empty for any other tensor. */
    public static OptionalInt layerIndex(String tensorName) {
        Matcher m = LINEAR.matcher(tensorName);
        return m.matches() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }

    public static String tensorName(int layer, String projection) {
        return "model.layers." + layer + "." + projection + ".weight";
    }
}
