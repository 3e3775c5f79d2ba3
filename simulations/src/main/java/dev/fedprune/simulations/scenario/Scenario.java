package dev.fedprune.simulations.scenario;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * A simulation: which model and data, how many virtual agents, how the data is split between them,
 * and the job to run (any field of a coordinator job spec except {@code model}).
 *
 * <pre>
 * name: demo
 * model: ../shared/fixtures/fortunes-lm     # a model directory, or "synthetic"
 * data: ../shared/fixtures/fortunes-lm/calibration.jsonl
 * agents: 4
 * partition: iid                            # iid | category
 * seed: 0
 * job: {localPruner: wanda, sparsity: 0.5, comparisonGroup: layer}
 * </pre>
 *
 * Relative paths are resolved against the scenario file's directory.
 */
public record Scenario(String name, String model, Path data, int agents, Partition partition, long seed, Map<String, Object> job) {

    public enum Partition { IID, CATEGORY, DIRICHLET }

    public static Scenario load(Path file) throws java.io.IOException {
        Object root;
        try {
            root = YAMLMapper.builder().build().readValue(Files.readString(file), Object.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getOriginalMessage(), e);
        }
        if (!(root instanceof Map<?, ?> raw)) {
            throw new IllegalArgumentException(file + ": expected a mapping of fields");
        }
        Map<String, Object> map = new LinkedHashMap<>();
        raw.forEach((k, v) -> map.put(String.valueOf(k), v));
        Path base = file.toAbsolutePath().getParent();
        Object model = map.get("model");
        Object data = map.get("data");
        if (model == null) {
            throw new IllegalArgumentException(file + ": field 'model' is required (a model directory or 'synthetic')");
        }
        if (data == null && !"synthetic".equals(model)) {
            throw new IllegalArgumentException(file + ": field 'data' is required (token-id JSONL calibration file)");
        }
        String modelPath = "synthetic".equals(model) ? "synthetic" : base.resolve(String.valueOf(model)).normalize().toString();
        int agents = Integer.parseInt(String.valueOf(map.getOrDefault("agents", 4)));
        if (agents < 1) {
            throw new IllegalArgumentException(file + ": field 'agents' must be at least 1, got " + agents);
        }
        Partition partition;
        try {
            partition = Partition.valueOf(String.valueOf(map.getOrDefault("partition", "iid")).toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": field 'partition' must be iid or category, got " + map.get("partition"), e);
        }
        Map<String, Object> job = new LinkedHashMap<>();
        if (map.get("job") instanceof Map<?, ?> j) {
            j.forEach((k, v) -> job.put(String.valueOf(k), v));
        } else if (map.containsKey("job")) {
            throw new IllegalArgumentException(file + ": field 'job' must be a mapping of job spec fields");
        }
        if (job.containsKey("model")) {
            throw new IllegalArgumentException(file + ": job.model is set by the scenario's 'model' field; remove it");
        }
        return new Scenario(String.valueOf(map.getOrDefault("name", "simulation")), modelPath,
                data == null ? null : base.resolve(String.valueOf(data)).normalize(), agents, partition,
                Long.parseLong(String.valueOf(map.getOrDefault("seed", 0))), job);
    }
}
