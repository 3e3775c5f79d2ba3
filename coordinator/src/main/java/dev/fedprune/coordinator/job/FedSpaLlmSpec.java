package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The FedSpaLLM part of a job spec ({@code method: fedspallm}; algorithms.md 1.14), after validation:
 * agents prune their assigned decoder layers with SparseGPT and return them, the coordinator averages
 * each weight over the agents that kept it and expands the mask to exactly the target sparsity.
 *
 * @param modelPath          Hugging Face model directory on the coordinator
 * @param sparsityRatio      fraction of the prunable weights removed, in [0, 1)
 * @param comparisonGroup    where mask expansion meets the target: per matrix ({@code layer}, the group of
 *                           SparseGPT's own masks, so the target is met exactly), per {@code row} or {@code column}
 * @param minLayerCoverage   layer sampling: agents that must prune and return every decoder layer
 * @param calibrationSamples 0 = all of each agent's samples
 * @param sequenceLength     0 = the model's context
 * @param sparsityTolerance  an uploaded layer whose kept fraction is farther than this from {@code 1 - sparsity} is refused
 */
public record FedSpaLlmSpec(String modelPath, double sparsityRatio, ComparisonGroup comparisonGroup, int minLayerCoverage,
                            int calibrationSamples, int sequenceLength, double sparsityTolerance) implements MethodSpec {

    public static final String NAME = "fedspallm";

    /** The spec fields of this method, beside the common ones. */
    public static final Set<String> FIELDS = Set.of("model", "localPruner", "sparsity", "pattern", "comparisonGroup",
            "minLayerCoverage", "calibrationSamples", "sequenceLength", "sparsityTolerance");

    @Override
    public String methodName() {
        return NAME;
    }

    /** Reads and checks this method's fields. */
    public static FedSpaLlmSpec parse(SpecFields f) {
        String model = f.string("model", null);
        if (model == null || model.isBlank()) {
            throw new InvalidJobSpecException("model", "required: the model directory on the coordinator (config.json + model.safetensors)");
        }
        String pruner = f.string("localPruner", "sparsegpt");
        if (!pruner.trim().equalsIgnoreCase("sparsegpt")) {
            throw new InvalidJobSpecException("localPruner", "expected sparsegpt (FedSpaLLM's agents return the weights SparseGPT"
                    + " reconstructs, not only masks), got '" + pruner + "'");
        }
        double sparsity = f.number("sparsity", Double.NaN);
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new InvalidJobSpecException("sparsity", "required, a fraction in [0, 1), got " + f.raw("sparsity"));
        }
        String pattern = f.string("pattern", "unstructured");
        if (!pattern.trim().equalsIgnoreCase("unstructured")) {
            throw new InvalidJobSpecException("pattern", "expected unstructured (FedSpaLLM's mask expansion prunes unstructured), got '"
                    + pattern + "'");
        }
        ComparisonGroup group = f.enumField("comparisonGroup", ComparisonGroup.class, "layer");
        int coverage = f.integer("minLayerCoverage", 1, 100_000, 1);
        int samples = f.integer("calibrationSamples", 0, 1_000_000, 0);
        int seqLen = f.integer("sequenceLength", 0, 1_000_000, 0);
        double tolerance = f.number("sparsityTolerance", 0.05);
        if (!(tolerance >= 0 && tolerance <= 1)) {
            throw new InvalidJobSpecException("sparsityTolerance", "expected a fraction in [0, 1], got " + f.raw("sparsityTolerance"));
        }
        return new FedSpaLlmSpec(model, sparsity, group, coverage, samples, seqLen, tolerance);
    }

    /** Writes this method's fields in canonical form, as {@link #parse} reads them. */
    public void write(Map<String, Object> out) {
        out.put("model", modelPath);
        out.put("localPruner", "sparsegpt");
        out.put("sparsity", sparsityRatio);
        out.put("pattern", "unstructured");
        out.put("comparisonGroup", comparisonGroup.name().toLowerCase(Locale.ROOT));
        out.put("minLayerCoverage", minLayerCoverage);
        out.put("calibrationSamples", calibrationSamples);
        out.put("sequenceLength", sequenceLength);
        out.put("sparsityTolerance", sparsityTolerance);
    }
}
