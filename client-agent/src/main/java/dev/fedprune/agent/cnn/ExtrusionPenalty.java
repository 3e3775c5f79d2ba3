package dev.fedprune.agent.cnn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fedprune.aggregation.format.BitMask;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * FedMef's budget-aware extrusion on a {@link MaskedCnn}: the loss term {@code λ·‖Θ_low‖₂²} over marked
 * active weights, held as a 0/1 tensor per layer that has marks (none when extrusion is off).
 */
final class ExtrusionPenalty {
    private final NDManager manager;
    private final SparseWeights sparse;
    /** 1 at the marked weights of each layer that has any; empty when off. */
    private final Map<String, NDArray> marks = new LinkedHashMap<>();
    private float lambda;

    ExtrusionPenalty(NDManager manager, SparseWeights sparse) {
        this.manager = manager;
        this.sparse = sparse;
    }

    /** Replaces the marks and {@code λ}; marked weights must be active, an empty map turns extrusion off. */
    void set(Map<String, int[]> markedIndices, float lambda) {
        if (!(lambda >= 0) || Float.isInfinite(lambda)) {
            throw new IllegalArgumentException("extrusion lambda must be a finite number >= 0, got " + lambda);
        }
        marks.values().forEach(NDArray::close);
        marks.clear();
        this.lambda = lambda;
        markedIndices.forEach((layer, indices) -> {
            NDArray w = sparse.weight(layer);
            BitMask keep = sparse.keepMask(layer);
            float[] m = new float[(int) w.size()];
            for (int i : indices) {
                if (i < 0 || i >= m.length || !keep.get(i)) {
                    throw new IllegalArgumentException("extrusion mark " + i + " of '" + layer + "' is not an active weight");
                }
                m[i] = 1f;
            }
            marks.put(layer, manager.create(m, w.getShape()));
        });
    }

    /** Adds the penalty's gradient {@code 2λθ} at the marked weights of {@code layer} to {@code g}. */
    void addGradient(String layer, NDArray w, NDArray g) {
        NDArray m = marks.get(layer);
        if (m != null) {
            g.addi(w.mul(m).muli(2f * lambda)); // gradient of λ·‖Θ_low‖₂²
        }
    }

    /** {@code ‖Θ_low‖₂} of the marked weights as they are now (0 when extrusion is off). */
    double markedNorm() {
        double sum = 0;
        for (Map.Entry<String, NDArray> e : marks.entrySet()) {
            try (NDArray marked = sparse.weight(e.getKey()).mul(e.getValue())) {
                sum += marked.mul(marked).sum().getFloat();
            }
        }
        return Math.sqrt(sum);
    }
}
