package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.coordinator.job.FedPrLlmSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which prunable tensors each voting round of a FedPrLLM job covers: all of them in one round (one-shot)
 * or one decoder layer per round (iterative), always in layer order so that a round can be aggregated
 * one decoder layer at a time.
 */
final class VotingRounds {
    private final List<List<String>> roundTensors;
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    VotingRounds(FedPrLlmSpec spec, ModelManifest manifest) {
        TreeMap<Integer, List<String>> byLayer = new TreeMap<>();
        for (ModelManifest.TensorEntry t : manifest.prunableTensors()) {
            if (t.shape().length != 2) {
                throw new IllegalArgumentException("prunable tensor " + t.name() + " is not 2-D");
            }
            shapes.put(t.name(), t.shape());
            byLayer.computeIfAbsent(PrunableTensors.layerIndex(t.name()).orElseThrow(), k -> new ArrayList<>()).add(t.name());
        }
        if (shapes.isEmpty()) {
            throw new IllegalArgumentException("model has no prunable tensors (model.layers.N.{self_attn,mlp}.*_proj.weight)");
        }
        if (spec.nmM() > 0) {
            shapes.forEach((name, shape) -> {
                if (shape[1] % spec.nmM() != 0) {
                    throw new IllegalArgumentException("pattern " + spec.patternLabel() + " needs the input dimension of " + name + " (" + shape[1] + ") to be a multiple of " + spec.nmM());
                }
            });
        }
        this.roundTensors = spec.strategy() == FedPrLlmSpec.Strategy.ONE_SHOT
                ? List.of(byLayer.values().stream().flatMap(List::stream).toList())
                : List.copyOf(byLayer.values());
    }

    int count() {
        return roundTensors.size();
    }

    List<String> tensors(int roundIndex) {
        return roundTensors.get(roundIndex);
    }

    long[] shape(String tensor) {
        return shapes.get(tensor);
    }

    /** The weights of each of the round's tensors, as a mask of it must be long. */
    Map<String, Long> weights(int roundIndex) {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (String name : tensors(roundIndex)) {
            long[] s = shapes.get(name);
            expected.put(name, s[0] * s[1]);
        }
        return expected;
    }

    /** The round's tensors grouped by decoder layer, in order. */
    List<Map<String, long[]>> layers(int roundIndex) {
        Map<Integer, Map<String, long[]>> byLayer = new LinkedHashMap<>();
        for (String name : tensors(roundIndex)) {
            byLayer.computeIfAbsent(PrunableTensors.layerIndex(name).orElseThrow(), k -> new LinkedHashMap<>()).put(name, shapes.get(name));
        }
        return List.copyOf(byLayer.values());
    }
}
