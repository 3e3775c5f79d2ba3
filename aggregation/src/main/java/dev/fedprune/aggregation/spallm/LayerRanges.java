package dev.fedprune.aggregation.spallm;

import java.util.ArrayList;
import java.util.List;

/** Human-readable layer lists for refusal messages: "layer 3", "layers 0, 2, 12-15". */
final class LayerRanges {
    private LayerRanges() {
    }

    /** @param layers ascending layer indices, not empty */
    static String describe(List<Integer> layers) {
        List<String> ranges = new ArrayList<>();
        int i = 0;
        while (i < layers.size()) {
            int first = layers.get(i);
            int last = first;
            while (i + 1 < layers.size() && layers.get(i + 1) == last + 1) {
                last = layers.get(++i);
            }
            ranges.add(first == last ? String.valueOf(first) : first + "-" + last);
            i++;
        }
        return (layers.size() == 1 ? "layer " : "layers ") + String.join(", ", ranges);
    }

    /** "a", "a and b", "a, b and c". */
    static String joinAnd(List<String> items) {
        if (items.size() <= 1) {
            return String.join("", items);
        }
        return String.join(", ", items.subList(0, items.size() - 1)) + " and " + items.get(items.size() - 1);
    }
}
