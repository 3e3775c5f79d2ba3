package dev.fedprune.agent.eval;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.DeviceLayer;
import dev.fedprune.agent.llm.HiddenStates;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.ActivationObserver;
import dev.fedprune.agent.llm.LayerWeights;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Perplexity with the output contract's convention: every sample is its own window (already cut to
 * the sequence length), position {@code t} predicts token {@code t+1}, and the result is
 * {@code exp(total NLL / total predicted tokens)} over all samples. The pass streams layer by layer over
 * chunks of samples whose activations fit the budget, so only one layer's weights are resident.
 */
public final class Perplexity {
    /** Default activation budget of one chunk of samples. */
    public static final long DEFAULT_ACTIVATION_BYTES = 512L << 20;

    public record Result(double perplexity, double totalNll, long predictedTokens, int samples) {
    }

    private Perplexity() {
    }

    public static Result evaluate(LlamaModel model, List<TokenSequence> samples, Device device, ProgressListener progress)
            throws IOException {
        return evaluate(model, samples, device, DEFAULT_ACTIVATION_BYTES, progress);
    }

    public static Result evaluate(LlamaModel model, List<TokenSequence> samples, Device device, long activationBytes,
                                  ProgressListener progress) throws IOException {
        return evaluate(model, samples, device, activationBytes, Map.of(), progress);
    }

    /**
     * Perplexity of the model with prune masks applied: each named projection weight has the weights whose
     * mask bit is set (1 = pruned) zeroed as its layer is loaded; the checkpoint itself is never changed.
     */
    public static Result evaluate(LlamaModel model, List<TokenSequence> samples, Device device, long activationBytes,
                                  Map<String, BitMask> masks, ProgressListener progress) throws IOException {
        LlamaConfig c = model.config();
        int maxTokens = samples.stream().mapToInt(TokenSequence::length).max().orElse(1);
        List<List<int[]>> chunks = new ArrayList<>();
        List<int[]> chunk = new ArrayList<>();
        long chunkBytes = 0;
        for (TokenSequence s : samples) {
            long bytes = HiddenStates.activationBytes(c, s.length());
            if (!chunk.isEmpty() && chunkBytes + bytes > activationBytes) {
                chunks.add(chunk);
                chunk = new ArrayList<>();
                chunkBytes = 0;
            }
            chunk.add(s.ids());
            chunkBytes += bytes;
        }
        if (!chunk.isEmpty()) {
            chunks.add(chunk);
        }
        double nll = 0;
        long predicted = 0;
        long steps = (long) chunks.size() * (c.layers() + 1);
        long done = 0;
        try (DecoderRuntime runtime = new DecoderRuntime(c, maxTokens, device);
             NDManager head = runtime.manager().newSubManager()) {
            NDArray finalNorm = head.create(model.checkpoint().readFloats(LlamaModel.FINAL_NORM));
            NDArray lmHead = null;
            for (List<int[]> ids : chunks) {
                try (HiddenStates states = HiddenStates.embed(runtime, model, ids)) {
                    for (int l = 0; l < c.layers(); l++) {
                        try (DeviceLayer layer = runtime.upload(masked(model.loadLayer(l), masks))) {
                            states.forward(layer, ActivationObserver.NONE, "eval", ProgressListener.NONE);
                        }
                        progress.progress("perplexity", ++done, steps);
                    }
                    if (lmHead == null) {
                        lmHead = head.create(model.checkpoint().readFloats(model.lmHeadName()), new Shape(c.vocabSize(), c.hiddenSize()));
                    }
                    for (int s = 0; s < ids.size(); s++) {
                        int[] tokens = ids.get(s);
                        if (tokens.length < 2) {
                            continue;
                        }
                        nll += sequenceNll(runtime, states.get(s), finalNorm, lmHead, tokens);
                        predicted += tokens.length - 1;
                    }
                    progress.progress("perplexity", ++done, steps);
                }
            }
        }
        if (predicted == 0) {
            throw new IllegalArgumentException("no sample has two or more tokens, so nothing is predicted");
        }
        return new Result(Math.exp(nll / predicted), nll, predicted, samples.size());
    }

    private static LayerWeights masked(LayerWeights weights, Map<String, BitMask> masks) {
        if (masks.isEmpty()) {
            return weights;
        }
        for (Projection p : Projection.values()) {
            BitMask mask = masks.get(p.weightName(weights.layer()));
            float[] w = weights.weight(p);
            if (mask == null || w == null) {
                continue;
            }
            if (mask.length() != w.length) {
                throw new IllegalArgumentException("mask of " + p.weightName(weights.layer()) + " has " + mask.length()
                        + " weights, the tensor has " + w.length);
            }
            for (int i = 0; i < w.length; i++) {
                if (mask.get(i)) {
                    w[i] = 0f;
                }
            }
        }
        return weights;
    }

    private static double sequenceNll(DecoderRuntime runtime, NDArray h, NDArray finalNorm, NDArray lmHead, int[] tokens) {
        int t = tokens.length;
        try (NDManager scope = h.getManager().newSubManager()) {
            NDArray logits = runtime.logits(h, finalNorm, lmHead);
            logits.attach(scope);
            long[] targets = new long[t - 1];
            for (int i = 1; i < t; i++) {
                targets[i - 1] = tokens[i];
            }
            NDArray index = scope.create(targets, new Shape(t - 1, 1));
            float[] logp = logits.get(new NDIndex("0:{}", t - 1)).logSoftmax(-1).gather(index, 1).toFloatArray();
            double sum = 0;
            for (float v : logp) {
                sum -= v;
            }
            return sum;
        }
    }
}
