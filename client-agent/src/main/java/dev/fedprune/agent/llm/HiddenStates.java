package dev.fedprune.agent.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.agent.task.ProgressListener;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * The hidden states of a set of sequences between two decoder layers: what a layer-streaming pass keeps
 * resident besides the current layer's weights. Each sequence is its own {@code [tokens, hidden]} array.
 */
public final class HiddenStates implements AutoCloseable {
    private final DecoderRuntime runtime;
    private final NDManager manager;
    private final NDArray[] states;

    private HiddenStates(DecoderRuntime runtime, NDManager manager, NDArray[] states) {
        this.runtime = runtime;
        this.manager = manager;
        this.states = states;
    }

    /** Embeds the sequences; reads only the embedding rows of the ids that occur. */
    public static HiddenStates embed(DecoderRuntime runtime, LlamaModel model, List<int[]> sequences) throws IOException {
        int hidden = model.config().hiddenSize();
        int[] unique = sequences.stream().flatMapToInt(Arrays::stream).distinct().sorted().toArray();
        float[] rows = model.embed(unique);
        return load(runtime, sequences.size(), s -> {
            int[] ids = sequences.get(s);
            float[] values = new float[ids.length * hidden];
            for (int t = 0; t < ids.length; t++) {
                int row = Arrays.binarySearch(unique, ids[t]);
                System.arraycopy(rows, row * hidden, values, t * hidden, hidden);
            }
            return values;
        });
    }

    /** Supplies the {@code [tokens * hidden]} float32 values of one sequence, row-major. */
    @FunctionalInterface
    public interface SequenceValues {
        float[] values(int sequence) throws IOException;
    }

    /**
     * States from given values, one sequence at a time (at most one sequence on the heap): the embeddings,
     * or states kept on disk between iterative rounds. Nothing stays allocated if a sequence fails.
     */
    public static HiddenStates load(DecoderRuntime runtime, int sequences, SequenceValues source) throws IOException {
        int hidden = runtime.config().hiddenSize();
        NDManager manager = runtime.manager().newSubManager();
        NDArray[] states = new NDArray[sequences];
        try {
            for (int s = 0; s < states.length; s++) {
                float[] values = source.values(s);
                if (values.length % hidden != 0) {
                    throw new IllegalArgumentException("sequence " + s + " has " + values.length + " values, not a multiple of hidden_size " + hidden);
                }
                states[s] = runtime.toEngine(manager, values, new Shape(values.length / hidden, hidden));
            }
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
        return new HiddenStates(runtime, manager, states);
    }

    public int hiddenSize() {
        return runtime.config().hiddenSize();
    }

    public int size() {
        return states.length;
    }

    public NDArray get(int sequence) {
        return states[sequence];
    }

    /** A copy of one sequence's states on the heap, {@code [tokens * hidden]} row-major. */
    public float[] values(int sequence) {
        return states[sequence].toFloatArray();
    }

    /** Runs every sequence through the layer and keeps the outputs as the new states. */
    public void forward(DeviceLayer layer, ActivationObserver observer, String stage, ProgressListener progress) {
        for (int s = 0; s < states.length; s++) {
            NDArray next = runtime.layer(states[s], layer, observer);
            states[s].close();
            states[s] = next;
            progress.progress(stage, s + 1, states.length);
        }
    }

    /** Runs every sequence through the layer for its observations only; the states stay unchanged. */
    public void observe(DeviceLayer layer, ActivationObserver observer, String stage, ProgressListener progress) {
        for (int s = 0; s < states.length; s++) {
            runtime.layer(states[s], layer, observer).close();
            progress.progress(stage, s + 1, states.length);
        }
    }

    /** Bytes of float32 activations that {@code tokens} tokens occupy. */
    public static long activationBytes(LlamaConfig c, long tokens) {
        return tokens * c.hiddenSize() * 4L;
    }

    @Override
    public void close() {
        manager.close();
    }
}
