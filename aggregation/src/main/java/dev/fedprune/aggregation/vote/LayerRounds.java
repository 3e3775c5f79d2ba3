package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.model.PrunableTensors;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeSet;

/**
 * Support for the iterative ("v2") FedPrLLM protocol (algorithms.md 1.7): one decoder layer is voted on
 * per round, so each round's accumulator holds only that layer's seven linear tensors.
 */
public final class LayerRounds {
    private LayerRounds() {
    }

    /** The shapes of the prunable tensors of decoder layer {@code layer}, in the given order. */
    public static Map<String, long[]> tensorsOfLayer(Map<String, long[]> shapes, int layer) {
        Map<String, long[]> out = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> {
            OptionalInt l = PrunableTensors.layerIndex(name);
            if (l.isPresent() && l.getAsInt() == layer) {
                out.put(name, shape);
            }
        });
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no prunable tensor of decoder layer " + layer + " among " + shapes.size() + " tensors");
        }
        return out;
    }

    /** The decoder layers that have prunable tensors, ascending: the rounds of the iterative protocol. */
    public static int[] layers(Map<String, long[]> shapes) {
        TreeSet<Integer> layers = new TreeSet<>();
        for (String name : shapes.keySet()) {
            PrunableTensors.layerIndex(name).ifPresent(layers::add);
        }
        return layers.stream().mapToInt(Integer::intValue).toArray();
    }

    /** An accumulator for one round of the iterative protocol. */
    public static VoteAccumulator accumulatorForLayer(Map<String, long[]> shapes, int layer) {
        return new VoteAccumulator(tensorsOfLayer(shapes, layer));
    }
}
