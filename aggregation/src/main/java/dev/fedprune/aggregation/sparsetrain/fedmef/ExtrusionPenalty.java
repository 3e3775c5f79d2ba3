package dev.fedprune.aggregation.sparsetrain.fedmef;

import java.util.List;

/**
 * BaE's regulariser {@code λ·Σ_ℓ ‖Θ_low,ℓ‖₂²} and its gradient {@code 2λθ}, which is non-zero on the
 * marked weights only (algorithms.md 4.4 step 3b, O-14). This is the paper's squared form with
 * {@code λ}; the reference library's unsquared, {@code λ}-free variant is not offered (4.9).
 *
 * @param lambda the coefficient {@code λ}, finite and {@code >= 0}
 */
public record ExtrusionPenalty(double lambda) {

    public ExtrusionPenalty {
        if (!(lambda >= 0) || Double.isInfinite(lambda)) {
            throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
        }
    }

    /** {@code λ·‖Θ_low‖₂²} of one layer. */
    public double value(MarkedWeights marked, float[] weights) {
        return lambda * marked.squaredNorm(weights);
    }

    /** {@code λ·Σ_ℓ ‖Θ_low,ℓ‖₂²} over layers given pairwise: {@code marked.get(ℓ)} with {@code weights.get(ℓ)}. */
    public double value(List<MarkedWeights> marked, List<float[]> weights) {
        return lambda * squaredNorm(marked, weights);
    }

    /** {@code Σ_ℓ ‖Θ_low,ℓ‖₂²}: the square of the norm over all marked weights that the REX rate uses. */
    public static double squaredNorm(List<MarkedWeights> marked, List<float[]> weights) {
        if (marked.size() != weights.size()) {
            throw new IllegalArgumentException("weights has " + weights.size() + " layers, marked " + marked.size());
        }
        double sum = 0;
        for (int l = 0; l < marked.size(); l++) {
            sum += marked.get(l).squaredNorm(weights.get(l));
        }
        return sum;
    }

    /** Adds {@code 2λθ_i} to {@code gradient[i]} for every marked {@code i}; other entries are untouched. */
    public void addGradient(MarkedWeights marked, float[] weights, float[] gradient) {
        marked.checkLength("weights", weights);
        marked.checkLength("gradient", gradient);
        for (int i : marked.indices()) {
            gradient[i] += (float) (2 * lambda * weights[i]);
        }
    }

    /** The penalty's gradient alone: {@code 2λθ} on the marked weights, 0 elsewhere. */
    public float[] gradient(MarkedWeights marked, float[] weights) {
        float[] gradient = new float[marked.layerSize()];
        addGradient(marked, weights, gradient);
        return gradient;
    }
}
