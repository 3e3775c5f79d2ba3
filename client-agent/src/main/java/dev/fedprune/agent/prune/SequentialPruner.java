package dev.fedprune.agent.prune;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.iterative.KeptStates;
import dev.fedprune.agent.llm.ActivationObserver;
import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.DeviceLayer;
import dev.fedprune.agent.llm.HiddenStates;
import dev.fedprune.agent.llm.LayerWeights;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sequential, layer-streaming calibration pipeline of algorithms.md 2.1. Calibration hidden states
 * pass through one decoder layer at a time; only that layer's weights and the activations are resident.
 * For each pruned layer: observe the inputs of all seven matrices with the unpruned layer, compute all
 * masks (and SparseGPT's updated weights), apply them, and run the pruned layer to produce the inputs of
 * the next one. Layers before {@code firstPrunedLayer} (FedPrLLM iterative mode) get the given global
 * masks instead of local pruning, and are skipped up to where {@link KeptStates} resumes.
 */
public final class SequentialPruner {
    private static final Logger LOG = LoggerFactory.getLogger(SequentialPruner.class);

    /** What one pruned layer produced: its masks and the time it took. */
    public record LayerResult(int layer, Map<Projection, BitMask> masks, double seconds) {
        public long prunedCount() {
            return masks.values().stream().mapToLong(BitMask::cardinality).sum();
        }

        public long weightCount() {
            return masks.values().stream().mapToLong(BitMask::length).sum();
        }
    }

    /**
     * Receives each pruned matrix as soon as it is done ({@link #tensor}, in {@link Projection} order) and
     * then the layer summary, so that callers can stream the pruned model to disk.
     */
    @FunctionalInterface
    public interface LayerSink {
        void layerDone(LayerResult result) throws IOException;

        /** The pruned (for SparseGPT, updated) weights of one matrix; valid only during the call. */
        default void tensor(int layer, Projection projection, float[] weights, BitMask mask) throws IOException {
        }
    }

    private final Device device;

    public SequentialPruner(Device device) {
        this.device = device;
    }

    /**
     * @param firstPrunedLayer layers below get {@code priorMasks} applied and are only run forward
     * @param lastLayer        the last layer to prune; nothing past it is loaded
     */
    public void run(LlamaModel model, List<TokenSequence> calibration, PruneOptions options, int firstPrunedLayer, int lastLayer,
                    Map<String, BitMask> priorMasks, LayerSink sink, ProgressListener progress) throws IOException {
        run(model, calibration, options, firstPrunedLayer, lastLayer, priorMasks, KeptStates.NONE, sink, progress);
    }

    /**
     * As above; with calibration data the layers before {@code firstPrunedLayer} start from what {@code kept}
     * has (iterative mode: the previous rounds' states), and the input of {@code firstPrunedLayer} is handed
     * to {@code kept} for the next round. The masks are the same bits with or without kept states.
     */
    public void run(LlamaModel model, List<TokenSequence> calibration, PruneOptions options, int firstPrunedLayer, int lastLayer,
                    Map<String, BitMask> priorMasks, KeptStates kept, LayerSink sink, ProgressListener progress) throws IOException {
        LlamaConfig c = model.config();
        validate(c, options, firstPrunedLayer, lastLayer);
        if (!options.needsData()) {
            for (int l = firstPrunedLayer; l <= lastLayer; l++) {
                long start = System.nanoTime();
                Map<Projection, BitMask> masks = new EnumMap<>(Projection.class);
                for (Projection p : Projection.values()) {
                    float[] w = model.loadWeight(l, p);
                    BitMask mask = pruneMatrix(c, p, w, options, null, null);
                    masks.put(p, mask);
                    sink.tensor(l, p, w, mask);
                }
                sink.layerDone(new LayerResult(l, masks, (System.nanoTime() - start) / 1e9));
                progress.progress("prune", l - firstPrunedLayer + 1, lastLayer - firstPrunedLayer + 1);
            }
            return;
        }
        if (calibration.isEmpty()) {
            throw new IllegalArgumentException(PruneMethods.word(options.method()) + " needs calibration data, and none was given");
        }
        int maxTokens = calibration.stream().mapToInt(TokenSequence::length).max().orElseThrow();
        List<int[]> ids = calibration.stream().map(TokenSequence::ids).toList();
        try (DecoderRuntime runtime = new DecoderRuntime(c, maxTokens, device)) {
            KeptStates.Resumed resumed = kept.resume(runtime, firstPrunedLayer, calibration.stream().mapToInt(TokenSequence::length).toArray());
            int from = resumed == null ? 0 : resumed.layer();
            long steps = (long) (lastLayer + 1 - from) * ids.size() * 2;
            long[] done = {0};
            ProgressListener perSample = (stage, d, t) -> progress.progress(stage, ++done[0], steps);
            try (HiddenStates states = resumed == null ? HiddenStates.embed(runtime, model, ids) : resumed.states()) {
                for (int l = from; l < firstPrunedLayer; l++) {
                    forwardWithGlobalMasks(runtime, model, states, l, priorMasks, firstPrunedLayer, perSample);
                    done[0] += ids.size();
                }
                kept.keep(firstPrunedLayer, states);
                for (int l = firstPrunedLayer; l <= lastLayer; l++) {
                    pruneLayer(runtime, model, states, l, lastLayer, options, sink, perSample, done);
                }
            }
        }
    }

    /** Runs a layer before the pruned ones, with the global masks given for it, over the states. */
    private static void forwardWithGlobalMasks(DecoderRuntime runtime, LlamaModel model, HiddenStates states, int l,
                                               Map<String, BitMask> priorMasks, int firstPrunedLayer, ProgressListener perSample) throws IOException {
        int applied = 0;
        try (DeviceLayer layer = runtime.upload(model.loadLayerShell(l))) {
            for (Projection p : Projection.values()) {
                float[] w = model.loadWeight(l, p);
                BitMask m = priorMasks.get(p.weightName(l));
                if (m != null) {
                    LayerWeights.applyMask(w, m, p.weightName(l));
                    applied++;
                }
                layer.put(p, w);
            }
            if (applied == 0) {
                LOG.warn("layer {} precedes the pruned layer {} but no global mask was given for it; it stays dense", l, firstPrunedLayer);
            }
            states.forward(layer, ActivationObserver.NONE, "layer " + l, perSample);
        }
    }

    /**
     * Observes the unpruned layer, prunes its matrices one at a time, and (unless it is the last) runs the
     * pruned layer over the states to produce the next layer's input.
     */
    private static void pruneLayer(DecoderRuntime runtime, LlamaModel model, HiddenStates states, int l, int lastLayer,
                                   PruneOptions options, LayerSink sink, ProgressListener perSample, long[] done) throws IOException {
        LlamaConfig c = model.config();
        long start = System.nanoTime();
        Map<Projection, BitMask> masks = new EnumMap<>(Projection.class);
        try (LayerStatistics stats = new LayerStatistics(options.method(), runtime.manager())) {
            try (DeviceLayer layer = runtime.uploadStreaming(model, l)) {
                states.observe(layer, stats, "layer " + l, perSample);
            }
            // One matrix at a time on the heap: read, prune, hand to the sink, upload for the next pass.
            try (DeviceLayer next = l < lastLayer ? runtime.upload(model.loadLayerShell(l)) : null) {
                Map<Projection.InputSite, SparseGpt.Factor> factors = new EnumMap<>(Projection.InputSite.class);
                for (Projection p : Projection.values()) {
                    float[] w = model.loadWeight(l, p);
                    BitMask mask = pruneMatrix(c, p, w, options, stats, factors);
                    masks.put(p, mask);
                    sink.tensor(l, p, w, mask);
                    if (next != null) {
                        next.put(p, w);
                    }
                }
                stats.close();
                factors.clear();
                sink.layerDone(new LayerResult(l, masks, (System.nanoTime() - start) / 1e9));
                if (next != null) {
                    states.forward(next, ActivationObserver.NONE, "layer " + l, perSample);
                } else {
                    done[0] += states.size();
                }
            }
        }
    }

    static void validate(LlamaConfig c, PruneOptions options, int firstPrunedLayer, int lastLayer) {
        if (firstPrunedLayer < 0 || lastLayer >= c.layers() || firstPrunedLayer > lastLayer) {
            throw new IllegalArgumentException("layers " + firstPrunedLayer + ".." + lastLayer + " are outside the model's 0.." + (c.layers() - 1));
        }
        Sparsity s = options.sparsity();
        if (s.isNm()) {
            for (Projection p : Projection.values()) {
                if (p.cols(c) % s.m() != 0) {
                    throw new IllegalArgumentException("N:M " + s.n() + ":" + s.m() + " does not divide d_in = " + p.cols(c) + " of " + p.module()
                            + " (config.json " + (p == Projection.DOWN ? "intermediate_size" : p == Projection.O ? "num_attention_heads*head_dim" : "hidden_size") + ")");
                }
            }
            if (options.method() == PruneMethod.PRUNE_METHOD_SPARSEGPT && options.blockSize() % s.m() != 0) {
                throw new IllegalArgumentException("SparseGPT block size " + options.blockSize() + " is not a multiple of M = " + s.m());
            }
        }
    }

    /** Computes one matrix's mask and prunes {@code w} in place (SparseGPT also updates the kept weights). */
    static BitMask pruneMatrix(LlamaConfig c, Projection p, float[] w, PruneOptions options, LayerStatistics stats,
                               Map<Projection.InputSite, SparseGpt.Factor> factors) {
        int rows = p.rows(c);
        int cols = p.cols(c);
        BitMask mask = switch (options.method()) {
            case PRUNE_METHOD_MAGNITUDE -> ScoreMasks.mask(ScoreMasks.magnitude(w, cols), rows, cols, options.sparsity());
            case PRUNE_METHOD_WANDA -> {
                ScoreMasks.RowScores scores = ScoreMasks.wanda(w, cols, stats.wandaScaler(p.site()));
                yield options.wandaVariant()
                        ? ScoreMasks.wandaVariant(scores, rows, cols, options.sparsity().ratio())
                        : ScoreMasks.mask(scores, rows, cols, options.sparsity());
            }
            case PRUNE_METHOD_SPARSEGPT -> {
                SparseGpt.Factor f = factors.computeIfAbsent(p.site(), site -> SparseGpt.factor(stats.hessian(site), cols, options.damping()));
                yield SparseGpt.prune(w, rows, cols, f, options.sparsity(), options.blockSize()).mask();
            }
            default -> throw new IllegalArgumentException("prune method " + options.method() + " is not a local pruner"); // PruneOptions refuses it
        };
        if (options.method() != PruneMethod.PRUNE_METHOD_SPARSEGPT) {
            LayerWeights.applyMask(w, mask, p.weightName(0));
        }
        return mask;
    }
}
