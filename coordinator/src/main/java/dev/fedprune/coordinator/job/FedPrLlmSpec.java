package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.proto.v1.PruneMethod;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The FedPrLLM part of a job spec ({@code method: fedprllm}, the default), after validation.
 *
 * @param modelPath            Hugging Face model directory on the coordinator
 * @param strategy             one-shot (one round) or iterative (one decoder layer per round)
 * @param localPruner          what agents run locally ({@code magnitude}, {@code wanda} or {@code sparsegpt} in the spec)
 * @param localPerRow          agents compare within rows (Wanda's group) rather than the whole matrix
 * @param nmN                  N of an N:M pattern, 0 for unstructured
 * @param sparsityTolerance    a local mask whose sparsity differs from the target by more than this is refused
 * @param weightVotesBySamples each agent's votes count as many times as its calibration samples (default: one vote each)
 * @param trimFraction         fraction of agents farthest from the consensus whose votes are dropped (0 = plain vote)
 * @param sampleCap            with votes weighted by samples: no agent's weight exceeds this multiple of the round's median
 *                             sample_count (0 = no cap)
 * @param evaluationSamples    when positive, every agent measures the perplexity of the global model its task starts
 *                             from on this many of its own samples, and a last evaluation round measures the final
 *                             model: the job's quality per round (0 = no evaluation)
 * @param secureAggregation    when not null, votes are aggregated securely: the coordinator sees only vote counts
 */
public record FedPrLlmSpec(String modelPath, Strategy strategy, PruneMethod localPruner, boolean localPerRow, double sparsityRatio,
                           int nmN, int nmM, ComparisonGroup comparisonGroup, boolean weightScaling, TieBreak tieBreak,
                           int calibrationSamples, int sequenceLength, double sparsityTolerance, boolean weightVotesBySamples,
                           double trimFraction, int evaluationSamples, double sampleCap,
                           SecureAggregationSpec secureAggregation) implements MethodSpec {

    public static final String NAME = "fedprllm";

    /** The spec fields of this method, beside the common ones. */
    public static final Set<String> FIELDS = Set.of("model", "strategy", "localPruner", "localComparisonGroup", "sparsity",
            "pattern", "comparisonGroup", "weightScaling", "tieBreak", "calibrationSamples", "sequenceLength",
            "sparsityTolerance", "voteWeighting", "trimFraction", "evaluationSamples", "sampleCap", "secureAggregation",
            "secureAggregationDegree", "secureAggregationThreshold");

    private static final PruneMethod[] PRUNERS = {PruneMethod.PRUNE_METHOD_MAGNITUDE, PruneMethod.PRUNE_METHOD_WANDA,
            PruneMethod.PRUNE_METHOD_SPARSEGPT};

    public enum Strategy { ONE_SHOT, ITERATIVE }

    @Override
    public String methodName() {
        return NAME;
    }

    public String patternLabel() {
        return nmM == 0 ? "unstructured" : nmN + ":" + nmM;
    }

    /** A local pruner as the spec names it: {@code magnitude}, {@code wanda} or {@code sparsegpt}. */
    public static String prunerLabel(PruneMethod method) {
        return method.name().substring("PRUNE_METHOD_".length()).toLowerCase(Locale.ROOT);
    }

    private static PruneMethod pruner(SpecFields f) {
        String v = f.string("localPruner", "wanda");
        for (PruneMethod m : PRUNERS) {
            if (prunerLabel(m).equals(v.trim().toLowerCase(Locale.ROOT).replace('-', '_'))) {
                return m;
            }
        }
        throw new InvalidJobSpecException("localPruner", "expected one of "
                + Arrays.stream(PRUNERS).map(FedPrLlmSpec::prunerLabel).collect(Collectors.joining(", ")) + ", got '" + v + "'");
    }

    /** Reads and checks this method's fields. */
    public static FedPrLlmSpec parse(SpecFields f) {
        String model = f.string("model", null);
        if (model == null || model.isBlank()) {
            throw new InvalidJobSpecException("model", "required: the model directory on the coordinator (config.json + model.safetensors)");
        }
        Strategy strategy = switch (f.string("strategy", "one-shot").toLowerCase(Locale.ROOT)) {
            case "one-shot", "oneshot", "one_shot" -> Strategy.ONE_SHOT;
            case "iterative" -> Strategy.ITERATIVE;
            default -> throw new InvalidJobSpecException("strategy", "expected one-shot or iterative, got '" + f.raw("strategy") + "'");
        };
        PruneMethod pruner = pruner(f);
        String localGroup = f.string("localComparisonGroup", pruner == PruneMethod.PRUNE_METHOD_MAGNITUDE ? "layer" : "row");
        boolean localPerRow = switch (localGroup.toLowerCase(Locale.ROOT)) {
            case "row" -> true;
            case "layer" -> false;
            default -> throw new InvalidJobSpecException("localComparisonGroup", "expected row or layer, got '" + localGroup + "'");
        };
        double sparsity = f.number("sparsity", Double.NaN);
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new InvalidJobSpecException("sparsity", "required, a fraction in [0, 1), got " + f.raw("sparsity"));
        }
        int n = 0;
        int m = 0;
        String pattern = f.string("pattern", "unstructured");
        if (!pattern.equalsIgnoreCase("unstructured")) {
            String[] parts = pattern.split(":");
            try {
                n = Integer.parseInt(parts[0].trim());
                m = Integer.parseInt(parts[1].trim());
            } catch (RuntimeException e) {
                throw new InvalidJobSpecException("pattern", "expected unstructured or N:M such as 2:4, got '" + pattern + "'");
            }
            if (parts.length != 2 || n <= 0 || m <= 0 || n >= m) {
                throw new InvalidJobSpecException("pattern", "N:M needs 0 < N < M, got '" + pattern + "'");
            }
            if (Math.abs((double) n / m - sparsity) > 1e-9) {
                throw new InvalidJobSpecException("sparsity", "pattern " + pattern + " prunes exactly " + ((double) n / m) + "; set sparsity to it, got " + sparsity);
            }
        }
        ComparisonGroup group = f.enumField("comparisonGroup", ComparisonGroup.class, "layer");
        TieBreak tieBreak = switch (f.string("tieBreak", "random").toLowerCase(Locale.ROOT)) {
            case "random", "seeded-random" -> TieBreak.SEEDED_RANDOM;
            case "lowest-index", "lowest_index" -> TieBreak.LOWEST_INDEX;
            default -> throw new InvalidJobSpecException("tieBreak", "expected random or lowest-index, got '" + f.raw("tieBreak") + "'");
        };
        boolean scaling = f.bool("weightScaling", false);
        int samples = f.integer("calibrationSamples", 0, 1_000_000, 0);
        int seqLen = f.integer("sequenceLength", 0, 1_000_000, 0);
        double tolerance = f.number("sparsityTolerance", 0.05);
        if (!(tolerance >= 0 && tolerance <= 1)) {
            throw new InvalidJobSpecException("sparsityTolerance", "expected a fraction in [0, 1], got " + f.raw("sparsityTolerance"));
        }
        boolean weighted = switch (f.string("voteWeighting", "none").toLowerCase(Locale.ROOT)) {
            case "none" -> false;
            case "samples" -> true;
            default -> throw new InvalidJobSpecException("voteWeighting", "expected none or samples, got '" + f.raw("voteWeighting") + "'");
        };
        double trim = f.number("trimFraction", 0);
        if (!(trim >= 0 && trim < 1)) {
            throw new InvalidJobSpecException("trimFraction", "expected a fraction in [0, 1), got " + f.raw("trimFraction"));
        }
        int evaluation = f.integer("evaluationSamples", 0, 1_000_000, 0);
        if (f.has("sampleCap") && !weighted) {
            throw f.error("sampleCap", "only with voteWeighting: samples (each agent's votes then count its self-reported sample_count); "
                    + "this job gives every agent one vote");
        }
        double sampleCap = RobustAggregationSpec.sampleCap(f, "sampleCap");
        return new FedPrLlmSpec(model, strategy, pruner, localPerRow, sparsity, n, m, group, scaling, tieBreak, samples, seqLen,
                tolerance, weighted, trim, evaluation, sampleCap, SecureAggregationSpec.parse(f));
    }

    /** Writes this method's fields in canonical form, as {@link #parse} reads them. */
    public void write(Map<String, Object> out) {
        out.put("model", modelPath);
        out.put("strategy", strategy == Strategy.ONE_SHOT ? "one-shot" : "iterative");
        out.put("localPruner", prunerLabel(localPruner));
        out.put("localComparisonGroup", localPerRow ? "row" : "layer");
        out.put("sparsity", sparsityRatio);
        out.put("pattern", patternLabel());
        out.put("comparisonGroup", comparisonGroup.name().toLowerCase(Locale.ROOT));
        out.put("weightScaling", weightScaling);
        out.put("tieBreak", tieBreak == TieBreak.SEEDED_RANDOM ? "random" : "lowest-index");
        out.put("calibrationSamples", calibrationSamples);
        out.put("sequenceLength", sequenceLength);
        out.put("sparsityTolerance", sparsityTolerance);
        out.put("voteWeighting", weightVotesBySamples ? "samples" : "none");
        out.put("trimFraction", trimFraction);
        out.put("evaluationSamples", evaluationSamples);
        if (sampleCap > 0) {
            out.put("sampleCap", sampleCap);
        }
        if (secureAggregation != null) {
            secureAggregation.write(out);
            // Canonical form: the default tolerance is implied (a secure job may not set it).
            out.remove("sparsityTolerance");
        }
    }
}
