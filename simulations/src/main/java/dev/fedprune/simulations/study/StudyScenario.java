package dev.fedprune.simulations.study;

import dev.fedprune.simulations.scenario.Scenario;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * A research scenario: one model, calibration and evaluation data, and the grid of settings to
 * compare (agent counts, methods, sparsities, comparison groups, weight scaling, seeds), with the data
 * partition and failure injection. Every key is checked before anything runs; errors name the file,
 * the line and the field. Lists may be given as a single value.
 *
 * <pre>
 * name: fedprllm-study
 * model: ../../shared/fixtures/fortunes-lm
 * calibration: ../../shared/fixtures/fortunes-lm/calibration.jsonl
 * evaluation: ../../shared/fixtures/fortunes-lm/evaluation.jsonl
 * agents: [8, 16, 64]
 * partition: {kind: dirichlet, alpha: 0.5, minSamples: 1}   # or iid | category
 * methods: [centralized, local_only, fedprllm_oneshot, fedprllm_iterative]
 * sparsities: [0.5, 0.6, 0.7]
 * comparisonGroups: [layer, row, column]
 * weightScaling: [false, true]
 * localPruner: wanda
 * seeds: [0]
 * failures: {dropoutFraction: 0.1, stragglerFraction: 0.1, stragglerDelaySeconds: 2, crashRejoinAgents: 1}
 * localOnlyEvaluatedAgents: 8    # local-only: evaluate this many agents' models (seeded choice); default all
 * </pre>
 */
public record StudyScenario(String name, Path model, Path calibration, Path evaluation, List<Integer> agents,
                            Scenario.Partition partition, double alpha, int minSamples, List<Method> methods,
                            List<Double> sparsities, List<String> comparisonGroups, List<Boolean> weightScaling,
                            String localPruner, String localComparisonGroup, String pattern, List<Long> seeds,
                            int calibrationSamples, int sequenceLength, int deadlineSeconds, Failures failures,
                            int localOnlyEvaluatedAgents) {

    /** The methods a study compares (the names of results.json). */
    public enum Method {
        CENTRALIZED, LOCAL_ONLY, FEDPRLLM_ONESHOT, FEDPRLLM_ITERATIVE;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * @param dropoutFraction       agents that do not answer in a round (the quorum must allow it)
     * @param stragglerFraction     agents that answer late
     * @param crashRejoinAgents     agents that crash once after pulling a task and come back with a new connection
     */
    public record Failures(double dropoutFraction, double stragglerFraction, double stragglerDelaySeconds, int crashRejoinAgents) {
        public static final Failures NONE = new Failures(0, 0, 0, 0);

        public boolean any() {
            return dropoutFraction > 0 || stragglerFraction > 0 || crashRejoinAgents > 0;
        }
    }

    private static final Set<String> KEYS = Set.of("name", "model", "calibration", "data", "evaluation", "agents", "partition",
            "methods", "sparsities", "sparsity", "comparisonGroups", "weightScaling", "localPruner", "localComparisonGroup",
            "pattern", "seeds", "seed", "calibrationSamples", "sequenceLength", "deadlineSeconds", "failures",
            "localOnlyEvaluatedAgents");
    private static final Set<String> PARTITION_KEYS = Set.of("kind", "alpha", "minSamples");
    private static final Set<String> FAILURE_KEYS = Set.of("dropoutFraction", "stragglerFraction", "stragglerDelaySeconds", "crashRejoinAgents");

    /** Parses and validates; every error names the file, the line and the field. */
    public static StudyScenario load(Path file) throws IOException {
        String text = Files.readString(file);
        Map<String, Integer> lines = keyLines(file, text);
        Map<?, ?> raw = readMapping(file, text);
        Fields f = new Fields(file, lines, raw);
        f.checkKeys("", KEYS);
        Path base = file.toAbsolutePath().getParent();

        String name = f.string("name", "study");
        Path model = f.existingPath("model", base, true);
        Path calibration = f.has("calibration") ? f.existingPath("calibration", base, false) : f.existingPath("data", base, false);
        Path evaluation = f.has("evaluation") ? f.existingPath("evaluation", base, false) : null;
        List<Integer> agents = f.list("agents", List.of(4)).stream().map(v -> f.intValue("agents", v, 1, 100_000)).toList();

        Scenario.Partition partition = Scenario.Partition.IID;
        double alpha = 0.5;
        int minSamples = 1;
        Object p = raw.get("partition");
        if (p instanceof Map<?, ?> pm) {
            Fields pf = new Fields(file, lines, pm).nested("partition");
            pf.checkKeys("partition.", PARTITION_KEYS);
            partition = pf.enumValue("kind", Scenario.Partition.class, "iid");
            alpha = pf.number("alpha", 0.5);
            if (!(alpha > 0)) {
                throw f.error("partition.alpha", "must be > 0, got " + alpha);
            }
            minSamples = (int) pf.number("minSamples", 1);
        } else if (p != null) {
            partition = f.enumValue("partition", Scenario.Partition.class, "iid");
        }
        long samples;
        try (var calibrationLines = Files.lines(calibration)) {
            samples = calibrationLines.filter(l -> !l.isBlank()).count();
        }
        int mostAgents = agents.stream().mapToInt(Integer::intValue).max().orElse(1);
        if (samples < (long) mostAgents * minSamples) {
            throw f.error("agents", mostAgents + " agents with at least " + minSamples + " samples each need " + ((long) mostAgents * minSamples)
                    + " samples; " + calibration + " has " + samples);
        }
        List<Method> methods = f.list("methods", List.of("fedprllm_oneshot")).stream()
                .map(v -> f.parseEnum("methods", String.valueOf(v), Method.class)).toList();
        List<Double> sparsities = f.list(f.has("sparsities") ? "sparsities" : "sparsity", List.of(0.5)).stream().map(v -> {
            double s = f.doubleValue("sparsities", v);
            if (!(s >= 0 && s < 1)) {
                throw f.error("sparsities", "each sparsity must be in [0, 1), got " + v);
            }
            return s;
        }).toList();
        List<String> groups = f.list("comparisonGroups", List.of("layer")).stream().map(v -> {
            String g = String.valueOf(v).toLowerCase(Locale.ROOT);
            if (!Set.of("layer", "row", "column").contains(g)) {
                throw f.error("comparisonGroups", "expected layer, row or column, got '" + v + "'");
            }
            return g;
        }).toList();
        List<Boolean> scaling = f.list("weightScaling", List.of(false)).stream().map(v -> {
            if (v instanceof Boolean b) {
                return b;
            }
            throw f.error("weightScaling", "expected true or false, got '" + v + "'");
        }).toList();
        String localPruner = f.string("localPruner", "wanda").toLowerCase(Locale.ROOT);
        if (!Set.of("magnitude", "wanda", "sparsegpt").contains(localPruner)) {
            throw f.error("localPruner", "expected magnitude, wanda or sparsegpt, got '" + localPruner + "'");
        }
        String localGroup = f.string("localComparisonGroup", localPruner.equals("magnitude") ? "layer" : "row");
        String pattern = f.string("pattern", "unstructured");
        List<Long> seeds = f.list(f.has("seeds") ? "seeds" : "seed", List.of(0L)).stream().map(v -> (long) f.doubleValue("seeds", v)).toList();
        int calibrationSamples = (int) f.number("calibrationSamples", 0);
        int sequenceLength = (int) f.number("sequenceLength", 0);
        int deadline = (int) f.number("deadlineSeconds", 600);
        int localOnlyEvaluated = f.has("localOnlyEvaluatedAgents") ? f.intValue("localOnlyEvaluatedAgents", raw.get("localOnlyEvaluatedAgents"), 1, 1_000_000) : 0;

        Failures failures = Failures.NONE;
        if (raw.get("failures") instanceof Map<?, ?> fm) {
            Fields ff = new Fields(file, lines, fm).nested("failures");
            ff.checkKeys("failures.", FAILURE_KEYS);
            failures = new Failures(ff.fraction("dropoutFraction"), ff.fraction("stragglerFraction"),
                    ff.number("stragglerDelaySeconds", 0), (int) ff.number("crashRejoinAgents", 0));
        } else if (raw.containsKey("failures")) {
            throw f.error("failures", "expected a mapping with " + new TreeSet<>(FAILURE_KEYS));
        }
        return new StudyScenario(name, model, calibration, evaluation, agents, partition, alpha, minSamples, methods, sparsities,
                groups, scaling, localPruner, localGroup, pattern, seeds, calibrationSamples, sequenceLength, deadline, failures,
                localOnlyEvaluated);
    }

    /** The scenario file's top-level mapping, or an error naming the file when it is not valid YAML or not a mapping. */
    static Map<?, ?> readMapping(Path file, String text) {
        Object root;
        try {
            root = YAMLMapper.builder().build().readValue(text, Object.class);
        } catch (JacksonException e) {
            throw new ScenarioException(file + ": not valid YAML: " + e.getOriginalMessage());
        }
        if (!(root instanceof Map<?, ?> raw)) {
            throw new ScenarioException(file + ": expected a mapping of fields");
        }
        return raw;
    }

    /** Line of every key, by dotted path, from the YAML token stream. */
    static Map<String, Integer> keyLines(Path file, String text) {
        Map<String, Integer> lines = new HashMap<>();
        Deque<String> path = new ArrayDeque<>();
        String pending = null;
        try (JsonParser parser = YAMLMapper.builder().build().createParser(text)) {
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                switch (token) {
                    case PROPERTY_NAME -> {
                        pending = parser.currentName();
                        String prefix = path.isEmpty() ? "" : path.peek() + ".";
                        lines.putIfAbsent(prefix + pending, parser.currentTokenLocation().getLineNr());
                    }
                    case START_OBJECT -> {
                        String prefix = path.isEmpty() ? "" : path.peek() + ".";
                        path.push(pending == null ? (path.isEmpty() ? "" : path.peek()) : prefix + pending);
                        pending = null;
                    }
                    case END_OBJECT -> {
                        if (!path.isEmpty()) {
                            path.pop();
                        }
                    }
                    default -> pending = token == JsonToken.START_ARRAY ? pending : null;
                }
            }
        } catch (JacksonException e) {
            throw new ScenarioException(file + ": not valid YAML: " + e.getOriginalMessage());
        }
        // The root object pushes "" first: strip the leading dot that leaves on nested keys.
        Map<String, Integer> clean = new HashMap<>();
        lines.forEach((k, v) -> clean.put(k.startsWith(".") ? k.substring(1) : k, v));
        return clean;
    }

    /** A refused scenario. */
    public static final class ScenarioException extends IllegalArgumentException {
        public ScenarioException(String message) {
            super(message);
        }
    }

    /** Typed access to one mapping of the scenario, with errors that carry file, line and field. */
    static final class Fields {
        private final Path file;
        private final Map<String, Integer> lines;
        private final Map<String, Object> values = new LinkedHashMap<>();
        private String prefix = "";

        Fields(Path file, Map<String, Integer> lines, Map<?, ?> raw) {
            this.file = file;
            this.lines = lines;
            raw.forEach((k, v) -> values.put(String.valueOf(k), v));
        }

        Fields nested(String name) {
            prefix = name + ".";
            return this;
        }

        ScenarioException error(String field, String message) {
            Integer line = lines.get(field.contains(".") ? field : prefix + field);
            return new ScenarioException(file + (line == null ? "" : ":" + line) + ": " + (field.contains(".") ? field : prefix + field) + ": " + message);
        }

        boolean has(String key) {
            return values.containsKey(key);
        }

        void checkKeys(String where, Set<String> allowed) {
            for (String key : values.keySet()) {
                if (!allowed.contains(key)) {
                    throw error(key, "unknown key; expected one of " + new TreeSet<>(allowed));
                }
            }
        }

        String string(String key, String fallback) {
            Object v = values.get(key);
            return v == null ? fallback : String.valueOf(v);
        }

        double number(String key, double fallback) {
            Object v = values.get(key);
            return v == null ? fallback : doubleValue(key, v);
        }

        double fraction(String key) {
            double v = number(key, 0);
            if (!(v >= 0 && v < 1)) {
                throw error(key, "must be a fraction in [0, 1), got " + v);
            }
            return v;
        }

        double doubleValue(String key, Object v) {
            if (v instanceof Number n) {
                return n.doubleValue();
            }
            try {
                return Double.parseDouble(String.valueOf(v));
            } catch (NumberFormatException e) {
                throw error(key, "expected a number, got '" + v + "'");
            }
        }

        int intValue(String key, Object v, int min, int max) {
            double d = doubleValue(key, v);
            if (d != Math.rint(d) || d < min || d > max) {
                throw error(key, "expected a whole number in [" + min + ", " + max + "], got " + v);
            }
            return (int) d;
        }

        List<Object> list(String key, List<?> fallback) {
            Object v = values.get(key);
            if (v == null) {
                return new ArrayList<>(fallback);
            }
            if (v instanceof List<?> l) {
                if (l.isEmpty()) {
                    throw error(key, "must not be empty");
                }
                return new ArrayList<>(l);
            }
            return new ArrayList<>(List.of(v));
        }

        Path existingPath(String key, Path base, boolean directory) {
            Object v = values.get(key);
            if (v == null) {
                throw error(key, "required");
            }
            Path p = base.resolve(String.valueOf(v)).normalize();
            if (directory ? !Files.isDirectory(p) : !Files.isRegularFile(p)) {
                throw error(key, (directory ? "no directory " : "no file ") + p);
            }
            return p;
        }

        <E extends Enum<E>> E enumValue(String key, Class<E> type, String fallback) {
            return parseEnum(key, string(key, fallback), type);
        }

        <E extends Enum<E>> E parseEnum(String key, String v, Class<E> type) {
            try {
                return Enum.valueOf(type, v.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                List<String> allowed = new ArrayList<>();
                for (E c : type.getEnumConstants()) {
                    allowed.add(c.name().toLowerCase(Locale.ROOT));
                }
                throw error(key, "expected one of " + allowed + ", got '" + v + "'");
            }
        }
    }
}
