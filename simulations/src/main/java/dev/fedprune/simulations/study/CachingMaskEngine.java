package dev.fedprune.simulations.study;

import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Remembers an agent's masks for a given request, so that runs of a study that differ only on the
 * server side (comparison group, weight scaling) and the local-only baseline reuse the same local
 * computation instead of repeating it. Masks are deterministic by seed, so this changes no result.
 */
final class CachingMaskEngine implements MaskEngine {
    private final MaskEngine delegate;
    private final Map<Object, Map<String, BitMask>> cache = new ConcurrentHashMap<>();

    CachingMaskEngine(MaskEngine delegate) {
        this.delegate = delegate;
    }

    @Override
    public Map<String, BitMask> computeMasks(MaskRequest r, ProgressListener progress) throws IOException {
        Object key = java.util.List.of(r.modelDir().toAbsolutePath().toString(), r.calibrationFile().toAbsolutePath().toString(),
                r.method(), r.sparsityRatio(), r.perRow(), r.nmN(), r.nmM(), r.calibrationSamples(), r.sequenceLength(), r.seed(),
                r.tensorNames(), r.layerIndex(), Objects.hash(r.priorMasks()));
        Map<String, BitMask> hit = cache.get(key);
        if (hit != null) {
            return copy(hit);
        }
        Map<String, BitMask> masks = delegate.computeMasks(r, progress);
        cache.put(key, copy(masks));
        return masks;
    }

    private static Map<String, BitMask> copy(Map<String, BitMask> masks) {
        Map<String, BitMask> out = new java.util.LinkedHashMap<>();
        masks.forEach((k, v) -> out.put(k, v.copy()));
        return out;
    }
}
