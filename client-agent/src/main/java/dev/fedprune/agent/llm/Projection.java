package dev.fedprune.agent.llm;

import dev.fedprune.aggregation.model.PrunableTensors;

/** The seven prunable linear maps of a decoder layer, with the activation each one reads. */
public enum Projection {
    Q("self_attn.q_proj", InputSite.ATTENTION_INPUT),
    K("self_attn.k_proj", InputSite.ATTENTION_INPUT),
    V("self_attn.v_proj", InputSite.ATTENTION_INPUT),
    O("self_attn.o_proj", InputSite.ATTENTION_OUTPUT),
    GATE("mlp.gate_proj", InputSite.MLP_INPUT),
    UP("mlp.up_proj", InputSite.MLP_INPUT),
    DOWN("mlp.down_proj", InputSite.MLP_HIDDEN);

    /** Where in the layer a projection's input is observed; q/k/v share one input, gate/up another. */
    public enum InputSite { ATTENTION_INPUT, ATTENTION_OUTPUT, MLP_INPUT, MLP_HIDDEN }

    private final String module;
    private final InputSite site;

    Projection(String module, InputSite site) {
        this.module = module;
        this.site = site;
    }

    public String module() {
        return module;
    }

    public InputSite site() {
        return site;
    }

    public String weightName(int layer) {
        return PrunableTensors.tensorName(layer, module);
    }

    public String biasName(int layer) {
        return "model.layers." + layer + "." + module + ".bias";
    }

    public boolean hasBias(LlamaConfig c) {
        return switch (this) {
            case Q, K, V -> c.attentionBias();
            case O -> c.outputBias();
            default -> c.mlpBias();
        };
    }

    public int rows(LlamaConfig c) {
        return switch (this) {
            case Q -> c.qDim();
            case K, V -> c.kvDim();
            case O, DOWN -> c.hiddenSize();
            case GATE, UP -> c.intermediateSize();
        };
    }

    public int cols(LlamaConfig c) {
        return switch (this) {
            case O -> c.qDim();
            case DOWN -> c.intermediateSize();
            default -> c.hiddenSize();
        };
    }

    /** The projection of a prunable tensor name such as {@code model.layers.3.mlp.up_proj.weight}. */
    public static Projection ofTensor(String tensorName) {
        for (Projection p : values()) {
            if (tensorName.endsWith("." + p.module + ".weight")) {
                return p;
            }
        }
        throw new IllegalArgumentException("not a prunable tensor: " + tensorName);
    }
}
