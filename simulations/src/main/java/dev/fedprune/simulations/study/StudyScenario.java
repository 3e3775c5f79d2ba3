package dev.fedprune.simulations.study;

import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.simulations.poisoning.Poisoning;
import dev.fedprune.simulations.scenario.Scenario;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import tools.jackson.databind.json.JsonMapper;

/**
 * A research scenario: one model, calibration and evaluation data, and the grid of settings to
 * compare (data partitions, agent counts, methods, sparsities, seeds), with failure injection. Every
 * key is checked before anything runs, the federated methods' job specs by the coordinator's own
 * parser; errors name the file, the line and the field. Lists may be given as a single value.
 *
 * <pre>
 * name: fedprllm-study
 * model: ../../shared/fixtures/fortunes-lm
 * calibration: ../../shared/fixtures/fortunes-lm/calibration.jsonl
 * evaluation: ../../shared/fixtures/fortunes-lm/evaluation.jsonl
 * agents: [8, 16, 64]
 * partitions: [iid, category, {kind: dirichlet, alpha: 0.3, minSamples: 1}]   # or one: partition: iid
 * methods:
 *   - centralized         # the local pruner on all the calibration data, on one node
 *   - local_only          # the mean perplexity of the agents' own models
 *   - fedprllm_oneshot    # shorthand: one federated method per comparisonGroups x weightScaling
 *   - {name: fedprllm_row, spec: {method: fedprllm, comparisonGroup: row}}   # any job spec fragment
 *   - {name: fedspallm, spec: {method: fedspallm, localPruner: sparsegpt}}
 * sparsities: [0.5, 0.6, 0.7]
 * comparisonGroups: [layer, row, column]   # for the fedprllm_oneshot / fedprllm_iterative shorthand
 * weightScaling: [false, true]             # likewise
 * localPruner: wanda
 * seeds: [0]
 * failures: {dropoutFraction: 0.1, stragglerFraction: 0.1, stragglerDelaySeconds: 2, crashRejoinAgents: 1}
 * localOnlyEvaluatedAgents: 8    # local-only: evaluate this many agents' models (seeded choice); default all
 * poisoning: [{attack: none}, {attack: inverted_masks, fraction: [0.1, 0.3]}]   # federated runs once per setting
 * </pre>
 */
public record StudyScenario(String name, Path model, Path calibration, Path evaluation, List<Integer> agents,
                            List<DataSplit> partitions, List<StudyMethod> methods,
                            List<Double> sparsities, List<String> comparisonGroups, List<Boolean> weightScaling,
                            String localPruner, String localComparisonGroup, String pattern, List<Long> seeds,
                            int calibrationSamples, int sequenceLength, int deadlineSeconds, Failures failures,
                            int localOnlyEvaluatedAgents, List<Poisoning> poisoning) {

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

    /** The methods a scenario may name without a spec. */
    private static final List<String> SHORTHANDS = List.of("centralized", "local_only", "fedprllm_oneshot", "fedprllm_iterative");
    /** Job spec fields every federated run gets from the study's grid; a method's spec may not set them. */
    static final Set<String> GRID_FIELDS = Set.of("name", "model", "sparsity", "pattern", "agentsPerRound", "quorum", "seed");
    private static final Pattern METHOD_NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]*");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static final Set<String> KEYS = Set.of("name", "model", "calibration", "data", "evaluation", "agents", "partition",
            "partitions", "methods", "sparsities", "sparsity", "comparisonGroups", "weightScaling", "localPruner", "localComparisonGroup",
            "pattern", "seeds", "seed", "calibrationSamples", "sequenceLength", "deadlineSeconds", "failures",
            "localOnlyEvaluatedAgents", "poisoning");
    private static final Set<String> PARTITION_KEYS = Set.of("kind", "alpha", "minSamples");
    private static final Set<String> METHOD_KEYS = Set.of("name", "spec");
    private static final Set<String> FAILURE_KEYS = Set.of("dropoutFraction", "stragglerFraction", "stragglerDelaySeconds", "crashRejoinAgents");

    /** Parses and validates; every error names the file, the line and the field. */
    public static StudyScenario load(Path file) throws IOException {
        String text = Files.readString(file);
        Map<String, Integer> lines = ScenarioYaml.keyLines(file, text);
        Map<?, ?> raw = ScenarioYaml.readMapping(file, text);
        ScenarioFields f = new ScenarioFields(file, lines, raw);
        f.checkKeys("", KEYS);
        Path base = file.toAbsolutePath().getParent();

        String name = f.string("name", "study");
        Path model = f.existingPath("model", base, true);
        Path calibration = f.has("calibration") ? f.existingPath("calibration", base, false) : f.existingPath("data", base, false);
        Path evaluation = f.has("evaluation") ? f.existingPath("evaluation", base, false) : null;
        List<Integer> agents = f.list("agents", List.of(4)).stream().map(v -> f.intValue("agents", v, 1, 100_000)).toList();

        if (f.has("partition") && f.has("partitions")) {
            throw f.error("partitions", "give partition or partitions, not both");
        }
        String partitionKey = f.has("partitions") ? "partitions" : "partition";
        List<Object> partitionValues = f.list(partitionKey, List.of("iid"));
        List<DataSplit> partitions = new ArrayList<>();
        for (int i = 0; i < partitionValues.size(); i++) {
            String where = raw.get(partitionKey) instanceof List<?> ? partitionKey + "[" + i + "]" : partitionKey;
            DataSplit split = dataSplit(f, file, lines, where, partitionValues.get(i));
            if (partitions.stream().anyMatch(d -> d.label().equals(split.label()))) {
                throw f.error(where, "partition " + split.label() + " is listed twice");
            }
            partitions.add(split);
        }
        long samples;
        try (var calibrationLines = Files.lines(calibration)) {
            samples = calibrationLines.filter(l -> !l.isBlank()).count();
        }
        int mostAgents = agents.stream().mapToInt(Integer::intValue).max().orElse(1);
        int minSamples = partitions.stream().mapToInt(DataSplit::minSamples).max().orElse(1);
        if (samples < (long) mostAgents * minSamples) {
            throw f.error("agents", mostAgents + " agents with at least " + minSamples + " samples each need " + ((long) mostAgents * minSamples)
                    + " samples; " + calibration + " has " + samples);
        }
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
            ScenarioFields ff = new ScenarioFields(file, lines, fm).nested("failures");
            ff.checkKeys("failures.", FAILURE_KEYS);
            failures = new Failures(ff.fraction("dropoutFraction"), ff.fraction("stragglerFraction"),
                    ff.number("stragglerDelaySeconds", 0), (int) ff.number("crashRejoinAgents", 0));
        } else if (raw.containsKey("failures")) {
            throw f.error("failures", "expected a mapping with " + new TreeSet<>(FAILURE_KEYS));
        }
        List<String> declaredAt = new ArrayList<>();
        List<StudyMethod> methods = methods(f, file, lines, raw, groups, scaling, declaredAt);
        StudyScenario scenario = new StudyScenario(name, model, calibration, evaluation, agents, partitions, methods, sparsities,
                groups, scaling, localPruner, localGroup, pattern, seeds, calibrationSamples, sequenceLength, deadline, failures,
                localOnlyEvaluated, PoisoningSettings.parse(f, file, lines, raw, seeds.get(0)));
        scenario.checkJobSpecs(f, lines, declaredAt);
        return scenario;
    }

    /**
     * The same study on part of its grid, to run a long study in pieces ({@code run --seeds 0 --agents 8,64})
     * and join them with {@code run --append} or {@code merge}. An empty list keeps that dimension whole; a
     * value the scenario does not have is refused.
     *
     * @param partitionLabels partitions by {@link DataSplit#label()}: {@code iid}, {@code category}, {@code dirichlet-0.3}
     */
    public StudyScenario restrict(List<Long> onlySeeds, List<Double> onlySparsities, List<Integer> onlyAgents, List<String> partitionLabels) {
        return new StudyScenario(name, model, calibration, evaluation, subset("--agents", agents, onlyAgents),
                subset("--partitions", partitions, partitions.stream().filter(p -> partitionLabels.contains(p.label())).toList(),
                        partitionLabels, partitions.stream().map(DataSplit::label).toList()),
                methods, subset("--sparsities", sparsities, onlySparsities), comparisonGroups, weightScaling, localPruner,
                localComparisonGroup, pattern, subset("--seeds", seeds, onlySeeds), calibrationSamples, sequenceLength, deadlineSeconds,
                failures, localOnlyEvaluatedAgents, poisoning);
    }

    private static <T> List<T> subset(String option, List<T> all, List<T> only) {
        return subset(option, all, all.stream().filter(only::contains).toList(), only, all);
    }

    private static <T, K> List<T> subset(String option, List<T> all, List<T> kept, List<K> asked, List<K> known) {
        if (asked.isEmpty()) {
            return all;
        }
        for (K k : asked) {
            if (!known.contains(k)) {
                throw new ScenarioException(option + ": " + k + " is not in the scenario's grid " + known);
            }
        }
        return kept;
    }

    /** The methods that run as federated jobs, in the scenario's order. */
    public List<StudyMethod> federatedMethods() {
        return methods.stream().filter(m -> m.kind() == StudyMethod.Kind.FEDERATED).toList();
    }

    public boolean runs(StudyMethod.Kind kind) {
        return methods.stream().anyMatch(m -> m.kind() == kind);
    }

    /**
     * The job spec of one federated run: the study's defaults for this grid point, then the method's
     * fragment over them (a null in the fragment removes a default the method's parser would refuse).
     */
    public Map<String, Object> jobSpec(StudyMethod method, String jobName, int agentsPerRound, int quorum, int deadline,
                                       double sparsity, long seed) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("name", jobName);
        spec.put("model", model.toString());
        spec.put("localPruner", localPruner);
        spec.put("localComparisonGroup", localComparisonGroup);
        spec.put("sparsity", sparsity);
        spec.put("pattern", pattern);
        spec.put("agentsPerRound", agentsPerRound);
        spec.put("quorum", quorum);
        spec.put("deadlineSeconds", deadline);
        spec.put("calibrationSamples", calibrationSamples);
        spec.put("sequenceLength", sequenceLength);
        spec.put("seed", seed);
        method.jobSpec().forEach((k, v) -> {
            if (v == null) {
                spec.remove(k);
            } else {
                spec.put(k, v);
            }
        });
        return spec;
    }

    private static DataSplit dataSplit(ScenarioFields f, Path file, Map<String, Integer> lines, String where, Object value) {
        if (value instanceof Map<?, ?> pm) {
            ScenarioFields pf = new ScenarioFields(file, lines, pm).nested(where);
            pf.checkKeys(where + ".", PARTITION_KEYS);
            Scenario.Partition kind = pf.enumValue("kind", Scenario.Partition.class, "iid");
            double alpha = pf.number("alpha", 0.5);
            if (!(alpha > 0)) {
                throw pf.error("alpha", "must be > 0, got " + alpha);
            }
            int minSamples = pm.get("minSamples") == null ? 1 : pf.intValue("minSamples", pm.get("minSamples"), 0, 1_000_000);
            return new DataSplit(kind, alpha, minSamples);
        }
        return new DataSplit(f.parseEnum(where, String.valueOf(value), Scenario.Partition.class), 0.5, 1);
    }

    /**
     * The methods in the scenario's order. A {@code fedprllm_oneshot} or {@code fedprllm_iterative} shorthand
     * becomes one federated method per comparison group and weight scaling; a {@code {name, spec}} mapping is
     * one federated method with that job spec fragment.
     *
     * @param declaredAt filled with the dotted path of each method's entry, for later errors
     */
    private static List<StudyMethod> methods(ScenarioFields f, Path file, Map<String, Integer> lines, Map<?, ?> raw, List<String> groups,
                                             List<Boolean> scaling, List<String> declaredAt) {
        List<Object> values = f.list("methods", List.of("fedprllm_oneshot"));
        List<StudyMethod> methods = new ArrayList<>();
        Set<String> named = new HashSet<>();
        for (int i = 0; i < values.size(); i++) {
            String where = raw.get("methods") instanceof List<?> ? "methods[" + i + "]" : "methods";
            Object v = values.get(i);
            if (v instanceof Map<?, ?> mm) {
                ScenarioFields mf = new ScenarioFields(file, lines, mm).nested(where);
                mf.checkKeys(where + ".", METHOD_KEYS);
                String name = mf.string("name", null);
                if (name == null || !METHOD_NAME.matcher(name).matches()) {
                    throw mf.error("name", "required: lower-case letters, digits, '_', '-' or '.', got '" + name + "'");
                }
                if (SHORTHANDS.contains(name) || !named.add(name)) {
                    throw mf.error("name", "'" + name + "' is already a method of this study; give each method its own name");
                }
                if (!(mm.get("spec") instanceof Map<?, ?> spec)) {
                    throw mf.error("spec", "required: a mapping of job spec fields, such as {method: fedprllm, comparisonGroup: row}");
                }
                Map<String, Object> fragment = new LinkedHashMap<>();
                spec.forEach((k, x) -> fragment.put(String.valueOf(k), x));
                for (String key : fragment.keySet()) {
                    if (GRID_FIELDS.contains(key)) {
                        throw new ScenarioFields(file, lines, spec).nested(where + ".spec").error(key,
                                "set by the study for every run (sparsities, agents, seeds, pattern); remove it from the method's spec");
                    }
                }
                methods.add(new StudyMethod(name, StudyMethod.Kind.FEDERATED, fragment));
                declaredAt.add(where);
                continue;
            }
            String name = String.valueOf(v).trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (!SHORTHANDS.contains(name)) {
                throw f.error(where, "expected one of " + SHORTHANDS + " or {name: ..., spec: {...}}, got '" + v + "'");
            }
            if (!named.add(name)) {
                throw f.error(where, "'" + name + "' is listed twice");
            }
            switch (name) {
                case "centralized" -> methods.add(StudyMethod.CENTRALIZED);
                case "local_only" -> methods.add(StudyMethod.LOCAL_ONLY);
                default -> {
                    for (String group : groups) {
                        for (boolean s : scaling) {
                            Map<String, Object> spec = new LinkedHashMap<>();
                            spec.put("method", "fedprllm");
                            spec.put("strategy", name.equals("fedprllm_oneshot") ? "one-shot" : "iterative");
                            spec.put("comparisonGroup", group);
                            spec.put("weightScaling", s);
                            methods.add(new StudyMethod(name, StudyMethod.Kind.FEDERATED, spec));
                            declaredAt.add(where);
                        }
                    }
                    continue;
                }
            }
            declaredAt.add(where);
        }
        return methods;
    }

    /** Every federated method's spec, at the first grid point, through the coordinator's parser: refused here, not mid-study. */
    private void checkJobSpecs(ScenarioFields f, Map<String, Integer> lines, List<String> declaredAt) {
        for (int i = 0; i < methods.size(); i++) {
            StudyMethod m = methods.get(i);
            if (m.kind() != StudyMethod.Kind.FEDERATED) {
                continue;
            }
            int a = agents.get(0);
            Map<String, Object> spec = jobSpec(m, m.name(), a, a, deadlineSeconds, sparsities.get(0), seeds.get(0));
            try {
                JobSpecParser.parse(JSON.writeValueAsString(spec));
            } catch (InvalidJobSpecException e) {
                String field = declaredAt.get(i) + ".spec." + e.field();
                throw f.error(lines.containsKey(field) ? field : declaredAt.get(i),
                        "the coordinator refuses method " + m.name() + ": " + e.getMessage());
            }
        }
    }

    /** A refused scenario. */
    public static final class ScenarioException extends IllegalArgumentException {
        public ScenarioException(String message) {
            super(message);
        }
    }
}
