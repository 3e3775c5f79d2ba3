package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.TieBreak;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads a job spec from YAML or JSON (JSON is YAML) and checks every field, so that a bad spec is
 * refused with the field's name and the expected value before anything is created.
 */
public final class JobSpecParser {
    private static final YAMLMapper YAML = YAMLMapper.builder().build();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Set<String> FIELDS = Set.of("name", "model", "method", "strategy", "localPruner",
            "localComparisonGroup", "sparsity", "pattern", "comparisonGroup", "weightScaling", "tieBreak",
            "agentsPerRound", "quorum", "deadlineSeconds", "waitForAgentsSeconds", "calibrationSamples",
            "sequenceLength", "seed", "sparsityTolerance", "voteWeighting", "trimFraction", "evaluationSamples");

    private JobSpecParser() {
    }

    public static JobSpec parse(String text) {
        Object root;
        try {
            root = YAML.readValue(text, Object.class);
        } catch (JacksonException e) {
            throw new InvalidJobSpecException("spec", "not valid YAML or JSON: " + e.getOriginalMessage());
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new InvalidJobSpecException("spec", "expected a mapping of fields, got " + (root == null ? "nothing" : root.getClass().getSimpleName()));
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        map.forEach((k, v) -> fields.put(String.valueOf(k), v));
        Set<String> unknown = new TreeSet<>(fields.keySet());
        unknown.removeAll(FIELDS);
        if (!unknown.isEmpty()) {
            throw new InvalidJobSpecException(unknown.iterator().next(), "unknown field; expected one of " + new TreeSet<>(FIELDS));
        }
        String method = string(fields, "method", "fedprllm");
        if (!method.equalsIgnoreCase("fedprllm")) {
            throw new InvalidJobSpecException("method", "'" + method + "' is not supported yet; expected fedprllm");
        }
        String name = string(fields, "name", "job");
        String model = string(fields, "model", null);
        if (model == null || model.isBlank()) {
            throw new InvalidJobSpecException("model", "required: the model directory on the coordinator (config.json + model.safetensors)");
        }
        JobSpec.Strategy strategy = switch (string(fields, "strategy", "one-shot").toLowerCase(Locale.ROOT)) {
            case "one-shot", "oneshot", "one_shot" -> JobSpec.Strategy.ONE_SHOT;
            case "iterative" -> JobSpec.Strategy.ITERATIVE;
            default -> throw new InvalidJobSpecException("strategy", "expected one-shot or iterative, got '" + fields.get("strategy") + "'");
        };
        JobSpec.LocalPruner pruner = enumField(fields, "localPruner", JobSpec.LocalPruner.class, "wanda");
        String localGroup = string(fields, "localComparisonGroup", pruner == JobSpec.LocalPruner.MAGNITUDE ? "layer" : "row");
        boolean localPerRow = switch (localGroup.toLowerCase(Locale.ROOT)) {
            case "row" -> true;
            case "layer" -> false;
            default -> throw new InvalidJobSpecException("localComparisonGroup", "expected row or layer, got '" + localGroup + "'");
        };
        double sparsity = number(fields, "sparsity", Double.NaN);
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new InvalidJobSpecException("sparsity", "required, a fraction in [0, 1), got " + fields.get("sparsity"));
        }
        int n = 0;
        int m = 0;
        String pattern = string(fields, "pattern", "unstructured");
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
        ComparisonGroup group = enumField(fields, "comparisonGroup", ComparisonGroup.class, "layer");
        TieBreak tieBreak = switch (string(fields, "tieBreak", "random").toLowerCase(Locale.ROOT)) {
            case "random", "seeded-random" -> TieBreak.SEEDED_RANDOM;
            case "lowest-index", "lowest_index" -> TieBreak.LOWEST_INDEX;
            default -> throw new InvalidJobSpecException("tieBreak", "expected random or lowest-index, got '" + fields.get("tieBreak") + "'");
        };
        boolean scaling = bool(fields, "weightScaling", false);
        int agents = integer(fields, "agentsPerRound", 1, 100_000, 2);
        int quorum = integer(fields, "quorum", 1, agents, agents);
        int deadline = integer(fields, "deadlineSeconds", 1, 7 * 24 * 3600, 600);
        int wait = integer(fields, "waitForAgentsSeconds", 0, 30 * 24 * 3600, 0);
        int samples = integer(fields, "calibrationSamples", 0, 1_000_000, 0);
        int seqLen = integer(fields, "sequenceLength", 0, 1_000_000, 0);
        long seed = (long) number(fields, "seed", 0);
        double tolerance = number(fields, "sparsityTolerance", 0.05);
        if (!(tolerance >= 0 && tolerance <= 1)) {
            throw new InvalidJobSpecException("sparsityTolerance", "expected a fraction in [0, 1], got " + fields.get("sparsityTolerance"));
        }
        boolean weighted = switch (string(fields, "voteWeighting", "none").toLowerCase(Locale.ROOT)) {
            case "none" -> false;
            case "samples" -> true;
            default -> throw new InvalidJobSpecException("voteWeighting", "expected none or samples, got '" + fields.get("voteWeighting") + "'");
        };
        double trim = number(fields, "trimFraction", 0);
        if (!(trim >= 0 && trim < 1)) {
            throw new InvalidJobSpecException("trimFraction", "expected a fraction in [0, 1), got " + fields.get("trimFraction"));
        }
        int evaluation = integer(fields, "evaluationSamples", 0, 1_000_000, 0);
        return new JobSpec(name, model, strategy, pruner, localPerRow, sparsity, n, m, group, scaling, tieBreak, agents,
                quorum, deadline, wait, samples, seqLen, seed, tolerance, weighted, trim, evaluation);
    }

    /** The canonical JSON form of a validated spec, stored with the job. */
    public static String toJson(JobSpec spec) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", spec.name());
        out.put("model", spec.modelPath());
        out.put("method", "fedprllm");
        out.put("strategy", spec.strategy() == JobSpec.Strategy.ONE_SHOT ? "one-shot" : "iterative");
        out.put("localPruner", spec.localPruner().name().toLowerCase(Locale.ROOT));
        out.put("localComparisonGroup", spec.localPerRow() ? "row" : "layer");
        out.put("sparsity", spec.sparsityRatio());
        out.put("pattern", spec.patternLabel());
        out.put("comparisonGroup", spec.comparisonGroup().name().toLowerCase(Locale.ROOT));
        out.put("weightScaling", spec.weightScaling());
        out.put("tieBreak", spec.tieBreak() == TieBreak.SEEDED_RANDOM ? "random" : "lowest-index");
        out.put("agentsPerRound", spec.agentsPerRound());
        out.put("quorum", spec.quorum());
        out.put("deadlineSeconds", spec.deadlineSeconds());
        out.put("waitForAgentsSeconds", spec.waitForAgentsSeconds());
        out.put("calibrationSamples", spec.calibrationSamples());
        out.put("sequenceLength", spec.sequenceLength());
        out.put("seed", spec.seed());
        out.put("sparsityTolerance", spec.sparsityTolerance());
        out.put("voteWeighting", spec.weightVotesBySamples() ? "samples" : "none");
        out.put("trimFraction", spec.trimFraction());
        out.put("evaluationSamples", spec.evaluationSamples());
        return JSON.writeValueAsString(out);
    }

    private static String string(Map<String, Object> f, String key, String fallback) {
        Object v = f.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Map || v instanceof Iterable) {
            throw new InvalidJobSpecException(key, "expected a single value, got " + v);
        }
        return String.valueOf(v);
    }

    private static double number(Map<String, Object> f, String key, double fallback) {
        Object v = f.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number num) {
            return num.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw new InvalidJobSpecException(key, "expected a number, got '" + v + "'");
        }
    }

    private static int integer(Map<String, Object> f, String key, int min, int max, int fallback) {
        if (!f.containsKey(key)) {
            return fallback;
        }
        double v = number(f, key, fallback);
        if (v != Math.rint(v) || v < min || v > max) {
            throw new InvalidJobSpecException(key, "expected a whole number in [" + min + ", " + max + "], got " + f.get(key));
        }
        return (int) v;
    }

    private static boolean bool(Map<String, Object> f, String key, boolean fallback) {
        Object v = f.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        return switch (String.valueOf(v).toLowerCase(Locale.ROOT)) {
            case "true", "on", "yes" -> true;
            case "false", "off", "no" -> false;
            default -> throw new InvalidJobSpecException(key, "expected true or false, got '" + v + "'");
        };
    }

    private static <E extends Enum<E>> E enumField(Map<String, Object> f, String key, Class<E> type, String fallback) {
        String v = string(f, key, fallback);
        try {
            return Enum.valueOf(type, v.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            StringBuilder allowed = new StringBuilder();
            for (E c : type.getEnumConstants()) {
                allowed.append(allowed.length() == 0 ? "" : ", ").append(c.name().toLowerCase(Locale.ROOT));
            }
            throw new InvalidJobSpecException(key, "expected one of " + allowed + ", got '" + v + "'");
        }
    }
}
