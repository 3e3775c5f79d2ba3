package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.sparsetrain.BnPooling;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.coordinator.sparsetrain.SparseTrainingSpec;
import java.util.ArrayList;
import java.util.List;
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
            "sequenceLength", "seed", "sparsityTolerance", "voteWeighting", "trimFraction", "evaluationSamples",
            "roundAttempts", "overSelectedAgents");
    /** The fields of {@code method: sparse_training}: the common ones and its own. */
    private static final Set<String> SPARSE_TRAINING_FIELDS = Set.of("name", "method", "agentsPerRound", "quorum",
            "deadlineSeconds", "waitForAgentsSeconds", "seed", "roundAttempts", "overSelectedAgents", "variant", "architecture", "channels", "width", "imageChannels",
            "imageSide", "classes", "density", "rounds", "localSteps", "batchSize", "learningRate", "adjustAlpha",
            "adjustInterval", "adjustStopRound", "blocks", "candidates", "bnPooling", "evaluationImages", "extrusionLambda", "sapGamma",
            "localEpochs", "momentum", "weightDecay");

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
        String method = string(fields, "method", "fedprllm").trim().toLowerCase(Locale.ROOT).replace('-', '_');
        if (method.equals("sparse_training")) {
            return parseSparseTraining(fields);
        }
        if (!method.equals("fedprllm")) {
            throw new InvalidJobSpecException("method", "expected fedprllm or sparse_training, got '" + fields.get("method") + "'");
        }
        Set<String> unknown = new TreeSet<>(fields.keySet());
        unknown.removeAll(FIELDS);
        if (!unknown.isEmpty()) {
            String field = unknown.iterator().next();
            throw new InvalidJobSpecException(field, SPARSE_TRAINING_FIELDS.contains(field)
                    ? "only for method: sparse_training (this job is fedprllm)"
                    : "unknown field; expected one of " + new TreeSet<>(FIELDS));
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
        int attempts = integer(fields, "roundAttempts", 1, JobSpec.MAX_ROUND_ATTEMPTS, 1);
        int overSelected = overSelectedAgents(fields, agents);
        return new JobSpec(name, model, strategy, pruner, localPerRow, sparsity, n, m, group, scaling, tieBreak, agents,
                quorum, deadline, wait, samples, seqLen, seed, tolerance, weighted, trim, evaluation, null, attempts, overSelected);
    }

    private static JobSpec parseSparseTraining(Map<String, Object> fields) {
        Set<String> unknown = new TreeSet<>(fields.keySet());
        unknown.removeAll(SPARSE_TRAINING_FIELDS);
        if (!unknown.isEmpty()) {
            String field = unknown.iterator().next();
            throw new InvalidJobSpecException(field, FIELDS.contains(field)
                    ? "not a field of method: sparse_training (it belongs to fedprllm); expected one of " + new TreeSet<>(SPARSE_TRAINING_FIELDS)
                    : "unknown field; expected one of " + new TreeSet<>(SPARSE_TRAINING_FIELDS));
        }
        String name = string(fields, "name", "job");
        SparseTrainingSpec.Variant variant = enumField(fields, "variant", SparseTrainingSpec.Variant.class, "fedtiny");
        // FedMef replaces Conv+BN by NSConv [P], so its variants default to the BatchNorm-free CNN.
        SparseTrainingSpec.Architecture architecture = enumField(fields, "architecture", SparseTrainingSpec.Architecture.class,
                variant.isFedMef() ? "nsconv_vgg" : "small_vgg");
        if (variant.selectsCandidate() && !architecture.hasBatchNorm()) {
            throw new InvalidJobSpecException("architecture", variant.label() + " selects its initial mask by adaptive BN selection, which needs "
                    + "BatchNorm layers; " + architecture.label() + " has none: use small_vgg or resnet18 (or a variant without ABNS)");
        }
        int[] channels = {16, 32, 64};
        if (fields.containsKey("channels")) {
            if (!architecture.takesChannels()) {
                throw new InvalidJobSpecException("channels", "only for architecture small_vgg and nsconv_vgg; resnet18 takes width");
            }
            channels = intList(fields, "channels", 1, 4096);
        }
        if (fields.containsKey("width") && architecture != SparseTrainingSpec.Architecture.RESNET18) {
            throw new InvalidJobSpecException("width", "only for architecture resnet18; " + architecture.label() + " takes channels");
        }
        int width = integer(fields, "width", 1, 1024, 64);
        int imageChannels = integer(fields, "imageChannels", 1, 64, 1);
        int imageSide = integer(fields, "imageSide", 1, 4096, 28);
        int classes = integer(fields, "classes", 2, 100_000, 10);
        double density;
        if (variant == SparseTrainingSpec.Variant.DENSE_FEDAVG) {
            density = number(fields, "density", 1.0);
            if (density != 1.0) {
                throw new InvalidJobSpecException("density", "dense_fedavg trains the dense model: leave density out or set it to 1, got " + fields.get("density"));
            }
        } else {
            density = number(fields, "density", Double.NaN);
            if (!(density > 0 && density <= 1)) {
                throw new InvalidJobSpecException("density", "required for " + variant.label() + ", a fraction in (0, 1], got " + fields.get("density"));
            }
        }
        int rounds = integer(fields, "rounds", 1, 1_000_000, 10);
        if (fields.containsKey("localSteps") && fields.containsKey("localEpochs")) {
            throw new InvalidJobSpecException("localEpochs", "give either localSteps (mini-batches per round) or localEpochs "
                    + "(passes over each agent's images per round), not both");
        }
        int localSteps = integer(fields, "localSteps", 1, 1_000_000, 10);
        int localEpochs = integer(fields, "localEpochs", 1, 10_000, 0);
        double momentum = number(fields, "momentum", 0);
        if (!(momentum >= 0 && momentum < 1)) {
            throw new InvalidJobSpecException("momentum", "expected SGD momentum in [0, 1) (0 = plain SGD), got " + fields.get("momentum"));
        }
        double weightDecay = number(fields, "weightDecay", 0);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new InvalidJobSpecException("weightDecay", "expected a finite number >= 0 (0 = no weight decay), got " + fields.get("weightDecay"));
        }
        int batchSize = integer(fields, "batchSize", 1, 65_536, 64);
        double learningRate = number(fields, "learningRate", 0.1);
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new InvalidJobSpecException("learningRate", "expected a finite number > 0, got " + fields.get("learningRate"));
        }
        double alpha = number(fields, "adjustAlpha", 0.2);
        if (!(alpha > 0 && alpha <= 1)) {
            throw new InvalidJobSpecException("adjustAlpha", "expected a fraction in (0, 1], got " + fields.get("adjustAlpha"));
        }
        int interval = integer(fields, "adjustInterval", 1, 1_000_000, 10);
        int stopRound = integer(fields, "adjustStopRound", 1, 1_000_000, Math.max(1, rounds - 1));
        int blocks = integer(fields, "blocks", 1, 10_000, variant.progressive() ? 2 : 1);
        if (blocks != 1 && !variant.progressive()) {
            throw new InvalidJobSpecException("blocks", variant.label() + " has no progressive schedule; leave blocks out or set it to 1, got " + blocks);
        }
        int candidates = integer(fields, "candidates", 1, 1000, 5);
        if (fields.containsKey("candidates") && !variant.selectsCandidate()) {
            throw new InvalidJobSpecException("candidates", variant.label() + " has no adaptive BN selection; only fedtiny and fedtiny_no_progressive take candidates");
        }
        BnPooling pooling = enumField(fields, "bnPooling", BnPooling.class, "plain");
        int evaluationImages = integer(fields, "evaluationImages", 0, Integer.MAX_VALUE, 0);
        int agents = integer(fields, "agentsPerRound", 1, 100_000, 2);
        int quorum = integer(fields, "quorum", 1, agents, agents);
        int deadline = integer(fields, "deadlineSeconds", 1, 7 * 24 * 3600, 600);
        int wait = integer(fields, "waitForAgentsSeconds", 0, 30 * 24 * 3600, 0);
        long seed = (long) number(fields, "seed", 0);
        int attempts = integer(fields, "roundAttempts", 1, JobSpec.MAX_ROUND_ATTEMPTS, 1);
        int overSelected = overSelectedAgents(fields, agents);
        if (fields.containsKey("extrusionLambda") && !variant.extrudes()) {
            throw new InvalidJobSpecException("extrusionLambda", variant.label()
                    + " has no budget-aware extrusion; only fedmef and fedmef_no_sap take extrusionLambda");
        }
        double extrusionLambda = 0;
        if (variant.extrudes()) {
            extrusionLambda = number(fields, "extrusionLambda", 0.01);
            if (!(extrusionLambda > 0) || Double.isInfinite(extrusionLambda)) {
                throw new InvalidJobSpecException("extrusionLambda", "expected a finite number > 0 (fedmef_no_bae turns extrusion off), got "
                        + fields.get("extrusionLambda"));
            }
        }
        double sapGamma = sapGamma(fields, variant, architecture);
        SparseTrainingSpec training = new SparseTrainingSpec(variant, architecture, channels, width, imageChannels, imageSide, classes,
                density, rounds, localSteps, batchSize, learningRate, alpha, interval, stopRound, blocks, candidates, pooling, evaluationImages,
                extrusionLambda, sapGamma, localEpochs, momentum, weightDecay);
        try {
            int layers = training.layout().sparseLayers().size();
            if (training.effectiveBlocks() > layers) {
                throw new InvalidJobSpecException("blocks", blocks + " blocks for " + layers + " sparse layers of " + architecture.label()
                        + "; at most one block per layer");
            }
        } catch (IllegalArgumentException e) {
            throw new InvalidJobSpecException(architecture.takesChannels() ? "channels" : "imageSide",
                    "no " + architecture.label() + " for these images: " + e.getMessage());
        }
        return new JobSpec(name, "", JobSpec.Strategy.ONE_SHOT, JobSpec.LocalPruner.MAGNITUDE, false, 0, 0, 0, ComparisonGroup.LAYER,
                false, TieBreak.SEEDED_RANDOM, agents, quorum, deadline, wait, 0, 0, seed, 0.05, false, 0, 0, training, attempts, overSelected);
    }

    /** Extra agents a round selects beyond agentsPerRound: at most as many again. */
    private static int overSelectedAgents(Map<String, Object> fields, int agentsPerRound) {
        if (!fields.containsKey("overSelectedAgents")) {
            return 0;
        }
        double v = number(fields, "overSelectedAgents", 0);
        if (v != Math.rint(v) || v < 0 || v > agentsPerRound) {
            throw new InvalidJobSpecException("overSelectedAgents", "expected a whole number in [0, " + agentsPerRound
                    + "] (at most agentsPerRound extra agents), got " + fields.get("overSelectedAgents"));
        }
        return (int) v;
    }

    /**
     * FedMef's SAP ratio {@code γ}: a fraction in [0, 1) of each cached activation the agents drop. The
     * library's 0.5 for fedmef and fedmef_no_bae; 0 (and nothing else) for fedmef_no_sap and the variants
     * without SAP. The agents implement SAP only in the layer-wise trainer of nsconv_vgg.
     */
    private static double sapGamma(Map<String, Object> fields, SparseTrainingSpec.Variant variant, SparseTrainingSpec.Architecture architecture) {
        boolean given = fields.containsKey("sapGamma");
        double gamma = number(fields, "sapGamma", variant.prunesActivations() ? 0.5 : 0);
        if (!(gamma >= 0 && gamma < 1)) {
            throw new InvalidJobSpecException("sapGamma", "expected a fraction in [0, 1) of each cached activation to drop "
                    + "(0 = no activation pruning), got " + fields.get("sapGamma"));
        }
        if (gamma != 0 && !variant.prunesActivations()) {
            throw new InvalidJobSpecException("sapGamma", (variant == SparseTrainingSpec.Variant.FEDMEF_NO_SAP
                    ? "fedmef_no_sap is FedMef without scaled activation pruning"
                    : variant.label() + " has no scaled activation pruning; only fedmef and fedmef_no_bae take sapGamma")
                    + "; leave sapGamma out or set it to 0, got " + fields.get("sapGamma"));
        }
        if (gamma > 0 && architecture != SparseTrainingSpec.Architecture.NSCONV_VGG) {
            throw new InvalidJobSpecException("sapGamma", "scaled activation pruning is only implemented for architecture nsconv_vgg, "
                    + "got sapGamma " + gamma + (given ? "" : " (the " + variant.label() + " default)") + " with architecture "
                    + architecture.label() + "; set sapGamma: 0 or use nsconv_vgg");
        }
        return gamma;
    }

    private static int[] intList(Map<String, Object> f, String key, int min, int max) {
        Object v = f.get(key);
        List<Object> items = new ArrayList<>();
        if (v instanceof Iterable<?> it) {
            it.forEach(items::add);
        } else if (v != null) {
            for (String part : String.valueOf(v).replace("[", "").replace("]", "").split(",")) {
                if (!part.isBlank()) {
                    items.add(part.trim());
                }
            }
        }
        if (items.isEmpty()) {
            throw new InvalidJobSpecException(key, "expected a non-empty list of whole numbers such as [16, 32, 64], got " + v);
        }
        int[] out = new int[items.size()];
        for (int i = 0; i < out.length; i++) {
            Object item = items.get(i);
            double d;
            try {
                d = item instanceof Number n ? n.doubleValue() : Double.parseDouble(String.valueOf(item).trim());
            } catch (NumberFormatException e) {
                throw new InvalidJobSpecException(key + "[" + i + "]", "expected a whole number, got '" + item + "'");
            }
            if (d != Math.rint(d) || d < min || d > max) {
                throw new InvalidJobSpecException(key + "[" + i + "]", "expected a whole number in [" + min + ", " + max + "], got " + item);
            }
            out[i] = (int) d;
        }
        return out;
    }

    /** The canonical JSON form of a validated spec, stored with the job. */
    public static String toJson(JobSpec spec) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (spec.method() == JobSpec.Method.SPARSE_TRAINING) {
            SparseTrainingSpec t = spec.sparseTraining();
            out.put("name", spec.name());
            out.put("method", JobSpec.Method.SPARSE_TRAINING.label());
            out.put("variant", t.variant().label());
            out.put("architecture", t.architecture().label());
            if (t.architecture().takesChannels()) {
                out.put("channels", t.channels());
            } else {
                out.put("width", t.width());
            }
            out.put("imageChannels", t.imageChannels());
            out.put("imageSide", t.imageSide());
            out.put("classes", t.classes());
            out.put("density", t.density());
            out.put("rounds", t.rounds());
            if (t.localEpochs() > 0) {
                out.put("localEpochs", t.localEpochs());
            } else {
                out.put("localSteps", t.localSteps());
            }
            out.put("batchSize", t.batchSize());
            out.put("learningRate", t.learningRate());
            out.put("momentum", t.momentum());
            out.put("weightDecay", t.weightDecay());
            out.put("adjustAlpha", t.adjustAlpha());
            out.put("adjustInterval", t.adjustInterval());
            out.put("adjustStopRound", t.adjustStopRound());
            out.put("blocks", t.blocks());
            if (t.variant().selectsCandidate()) {
                out.put("candidates", t.candidates());
            }
            out.put("bnPooling", t.bnPooling().name().toLowerCase(Locale.ROOT));
            out.put("evaluationImages", t.evaluationImages());
            if (t.variant().extrudes()) {
                out.put("extrusionLambda", t.extrusionLambda());
            }
            if (t.variant().isFedMef()) {
                out.put("sapGamma", t.sapGamma());
            }
            out.put("agentsPerRound", spec.agentsPerRound());
            out.put("quorum", spec.quorum());
            out.put("deadlineSeconds", spec.deadlineSeconds());
            out.put("waitForAgentsSeconds", spec.waitForAgentsSeconds());
            out.put("seed", spec.seed());
            out.put("roundAttempts", spec.roundAttempts());
            out.put("overSelectedAgents", spec.overSelectedAgents());
            return JSON.writeValueAsString(out);
        }
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
        out.put("roundAttempts", spec.roundAttempts());
        out.put("overSelectedAgents", spec.overSelectedAgents());
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
