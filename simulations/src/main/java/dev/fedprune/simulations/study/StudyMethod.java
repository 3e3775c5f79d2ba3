package dev.fedprune.simulations.study;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One method a study compares: a baseline the study computes itself (centralized, local-only), or a
 * federated job given by a fragment of a coordinator job spec. The study adds what its grid decides
 * (model, sparsity, agents, seed, local pruner, ...) and the fragment wins over those defaults, so a
 * new federated method needs only a line in the scenario file.
 *
 * @param name    the method's name in results.json
 * @param jobSpec for {@link Kind#FEDERATED}, the job spec fields this method sets (a null value removes
 *                a default the study would otherwise send); empty for the baselines
 */
public record StudyMethod(String name, Kind kind, Map<String, Object> jobSpec) {

    public enum Kind { CENTRALIZED, LOCAL_ONLY, FEDERATED }

    public StudyMethod {
        jobSpec = Collections.unmodifiableMap(new LinkedHashMap<>(jobSpec));
    }

    public static final StudyMethod CENTRALIZED = new StudyMethod("centralized", Kind.CENTRALIZED, Map.of());
    public static final StudyMethod LOCAL_ONLY = new StudyMethod("local_only", Kind.LOCAL_ONLY, Map.of());

    /** The server's comparison group as the spec sets it, or "" where the method has none of its own. */
    public String comparisonGroup() {
        Object g = jobSpec.get("comparisonGroup");
        return g == null ? "" : String.valueOf(g);
    }

    public boolean weightScaling() {
        return Boolean.TRUE.equals(jobSpec.get("weightScaling"));
    }
}
