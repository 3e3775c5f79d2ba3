package dev.fedprune.agent.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.EnumMap;
import java.util.Map;

/** One decoder layer's parameters as engine arrays (float32), owned by a manager the caller closes. */
public final class DeviceLayer implements AutoCloseable {
    final NDArray inputNorm;
    final NDArray postAttentionNorm;
    final Map<Projection, NDArray> weights = new EnumMap<>(Projection.class);
    final Map<Projection, NDArray> biases = new EnumMap<>(Projection.class);
    private final NDManager manager;
    private final DecoderRuntime runtime;
    private final LlamaConfig config;

    DeviceLayer(DecoderRuntime runtime, LlamaConfig c, LayerWeights w) {
        this.runtime = runtime;
        this.config = c;
        manager = runtime.manager().newSubManager();
        inputNorm = runtime.toEngine(manager, w.inputNorm(), new Shape(c.hiddenSize()));
        postAttentionNorm = runtime.toEngine(manager, w.postAttentionNorm(), new Shape(c.hiddenSize()));
        for (Projection p : Projection.values()) {
            if (w.weight(p) != null) {
                put(p, w.weight(p));
            }
            if (w.bias(p) != null) {
                biases.put(p, runtime.toEngine(manager, w.bias(p), new Shape(p.rows(c))));
            }
        }
    }

    /** Uploads one projection weight (streaming construction); the caller may drop its heap copy afterwards. */
    public void put(Projection p, float[] values) {
        NDArray old = weights.put(p, runtime.toEngine(manager, values, new Shape(p.rows(config), p.cols(config))));
        if (old != null) {
            old.close();
        }
    }

    void checkComplete() {
        if (weights.size() != Projection.values().length) {
            throw new IllegalStateException("layer has " + weights.size() + " of 7 projection weights on the engine");
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
