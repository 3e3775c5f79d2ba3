package dev.fedprune.agent.prune;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.iterative.JobStates;
import dev.fedprune.agent.iterative.KeptStates;
import dev.fedprune.agent.iterative.LayerInputCache;
import dev.fedprune.agent.iterative.LayerInputKey;
import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.proto.v1.PruneMethod;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's mask engine for LLaMA-family models: magnitude, Wanda or SparseGPT run locally on the
 * agent's calibration file through the layer-streaming {@link SequentialPruner}. One-shot requests
 * ({@code layerIndex = -1}) prune every layer up to the last requested tensor sequentially with the
 * agent's own masks; iterative requests apply the given global masks to earlier layers and mask only
 * {@code layerIndex}, resuming from the calibration states a previous round of the job kept when the
 * request says where they are. Every input is checked before any long work starts.
 */
public final class LlmMaskEngine implements MaskEngine {
    private static final Logger LOG = LoggerFactory.getLogger(LlmMaskEngine.class);

    private final Device device;

    /** CPU engine. */
    public LlmMaskEngine() {
        this(Device.cpu());
    }

    public LlmMaskEngine(Device device) {
        this.device = device;
    }

    /** {@code "cpu"}, {@code "cuda"} or {@code "cuda:N"}. */
    public static LlmMaskEngine forDevice(String device) {
        return new LlmMaskEngine(DecoderRuntime.device(device));
    }

    /** This engine for every local pruner, keyed as agents look pruners up: the engine map of an agent loop. */
    public Map<PruneMethod, MaskEngine> byMethod() {
        return Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, this, PruneMethod.PRUNE_METHOD_WANDA, this, PruneMethod.PRUNE_METHOD_SPARSEGPT, this);
    }

    @Override
    public Map<String, BitMask> computeMasks(MaskRequest request, ProgressListener progress) throws IOException {
        ProgressListener listener = progress == null ? ProgressListener.NONE : progress;
        try (LlamaModel model = LlamaModel.open(request.modelDir())) {
            LlamaConfig c = model.config();
            PruneOptions options = PruneOptions.of(request.method(), sparsity(request));
            Set<String> wanted = requestedTensors(request, c);
            int first;
            int last;
            if (request.layerIndex() >= 0) {
                first = request.layerIndex();
                last = request.layerIndex();
            } else {
                first = options.needsData() ? 0 : wanted.stream().mapToInt(LlmMaskEngine::layerOf).min().orElseThrow();
                last = wanted.stream().mapToInt(LlmMaskEngine::layerOf).max().orElseThrow();
            }
            SequentialPruner.validate(c, options, first, last);
            List<TokenSequence> calibration = List.of();
            if (options.needsData()) {
                calibration = calibration(request, c);
            }
            LOG.info("computing {} masks ({}) for {} tensors of layers {}..{} on {} calibration samples",
                    PruneMethods.word(request.method()), options.sparsity().describe(), wanted.size(), first, last, calibration.size());
            Map<String, BitMask> out = new LinkedHashMap<>();
            KeptStates kept = keptStates(request, c, options, calibration);
            new SequentialPruner(device).run(model, calibration, options, first, last, request.priorMasks(), kept, result -> {
                for (Map.Entry<Projection, BitMask> e : result.masks().entrySet()) {
                    String name = e.getKey().weightName(result.layer());
                    if (wanted.contains(name)) {
                        out.put(name, e.getValue());
                    }
                }
            }, listener);
            Map<String, BitMask> ordered = new LinkedHashMap<>();
            for (String name : wanted) {
                ordered.put(name, out.get(name));
            }
            return ordered;
        }
    }

    static Sparsity sparsity(MaskRequest r) {
        if (r.nmN() != 0 || r.nmM() != 0) {
            double ratio = r.sparsityRatio() == 0 ? (double) r.nmN() / r.nmM() : r.sparsityRatio();
            return new Sparsity(ratio, true, r.nmN(), r.nmM());
        }
        return Sparsity.unstructured(r.sparsityRatio(), r.perRow());
    }

    private static Set<String> requestedTensors(MaskRequest r, LlamaConfig c) {
        if (r.layerIndex() < -1 || r.layerIndex() >= c.layers()) {
            throw new IllegalArgumentException("layerIndex " + r.layerIndex() + " is outside -1.." + (c.layers() - 1));
        }
        Set<String> wanted = new LinkedHashSet<>();
        if (r.tensorNames().isEmpty()) {
            int from = r.layerIndex() >= 0 ? r.layerIndex() : 0;
            int to = r.layerIndex() >= 0 ? r.layerIndex() : c.layers() - 1;
            for (int l = from; l <= to; l++) {
                for (Projection p : Projection.values()) {
                    wanted.add(p.weightName(l));
                }
            }
            return wanted;
        }
        for (String name : r.tensorNames()) {
            OptionalInt layer = PrunableTensors.layerIndex(name);
            if (layer.isEmpty() || layer.getAsInt() >= c.layers()) {
                throw new IllegalArgumentException("tensor '" + name + "' is not a prunable tensor of this " + c.layers() + "-layer model");
            }
            if (r.layerIndex() >= 0 && layer.getAsInt() != r.layerIndex()) {
                throw new IllegalArgumentException("tensor '" + name + "' is not in layer " + r.layerIndex() + " of this iterative request");
            }
            wanted.add(name);
        }
        return wanted;
    }

    private static int layerOf(String tensorName) {
        return PrunableTensors.layerIndex(tensorName).orElseThrow();
    }

    private static List<TokenSequence> calibration(MaskRequest r, LlamaConfig c) throws IOException {
        if (r.calibrationFile() == null) {
            throw new IllegalArgumentException(PruneMethods.word(r.method()) + " needs a calibration file, and none was given");
        }
        if (r.calibrationSamples() < 0 || r.sequenceLength() < 0) {
            throw new IllegalArgumentException("calibrationSamples and sequenceLength must be >= 0");
        }
        List<TokenSequence> all = TokenDatasets.load(r.calibrationFile(), c.vocabSize(), sequenceLength(r, c), r.modelDir());
        return TokenDatasets.sample(all, r.calibrationSamples(), r.seed());
    }

    private static int sequenceLength(MaskRequest r, LlamaConfig c) {
        return r.sequenceLength() == 0 ? c.maxPositions() : Math.min(r.sequenceLength(), c.maxPositions());
    }

    /**
     * An iterative round with calibration data keeps its job's states where the request says, under a key
     * of everything they depend on; everything else keeps nothing.
     */
    private KeptStates keptStates(MaskRequest r, LlamaConfig c, PruneOptions options, List<TokenSequence> calibration) throws IOException {
        JobStates job = r.keptStates();
        if (job == null || r.layerIndex() < 0 || !options.needsData()) {
            return KeptStates.NONE;
        }
        String[] priorDigests = LayerInputKey.priorMaskDigests(r.priorMasks(), r.layerIndex());
        LayerInputKey key = new LayerInputKey(job.jobId(), job.modelId(), Digests.sha256Hex(r.calibrationFile()),
                LayerInputKey.tokenIdsSha256(calibration.stream().map(TokenSequence::ids).toList()), r.calibrationSamples(),
                sequenceLength(r, c), r.seed(), device.toString(), r.layerIndex(), priorDigests[r.layerIndex()]);
        return new LayerInputCache(job.directory(), key, priorDigests, c.layers());
    }
}
