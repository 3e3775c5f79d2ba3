package dev.fedprune.simulations.scenario;

import java.nio.file.Path;
import java.util.Map;

/**
 * One federated job with virtual agents, as the demo runs it: the model (a directory, or "synthetic"
 * for a generated one), calibration data, the number of agents, how the data is split between them,
 * and the job spec fields (any of a coordinator job spec except {@code model}). Scenario files are
 * read by {@link dev.fedprune.simulations.study.StudyScenario}.
 */
public record Scenario(String name, String model, Path data, int agents, Partition partition, long seed, Map<String, Object> job) {

    public enum Partition { IID, CATEGORY, DIRICHLET }
}
