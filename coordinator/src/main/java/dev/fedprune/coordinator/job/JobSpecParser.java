package dev.fedprune.coordinator.job;

import dev.fedprune.coordinator.method.MethodProvider;
import dev.fedprune.coordinator.method.MethodRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads a job spec from YAML or JSON (JSON is YAML) and checks every field, so that a bad spec is
 * refused with the field's name and the expected value before anything is created. The common fields
 * are read here; the {@code method:} field picks the {@link MethodProvider} that reads the rest.
 */
public final class JobSpecParser {
    private static final YAMLMapper YAML = YAMLMapper.builder().build();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** Specs written before there was a choice of method are FedPrLLM jobs. */
    static final String DEFAULT_METHOD = FedPrLlmSpec.NAME;
    /** The fields of every job, whatever its method. */
    public static final Set<String> COMMON_FIELDS = Set.of("name", "method", "agentsPerRound", "quorum", "deadlineSeconds",
            "waitForAgentsSeconds", "seed", "roundAttempts", "overSelectedAgents");

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
        Map<String, Object> raw = new LinkedHashMap<>();
        map.forEach((k, v) -> raw.put(String.valueOf(k), v));
        SpecFields fields = new SpecFields(raw);
        String methodName = fields.string("method", DEFAULT_METHOD).trim().toLowerCase(Locale.ROOT).replace('-', '_');
        MethodProvider<?> provider = MethodRegistry.byName(methodName).orElseThrow(() -> new InvalidJobSpecException("method",
                "expected " + alternatives(MethodRegistry.names()) + ", got '" + fields.raw("method") + "'"));
        checkFieldNames(fields, provider);
        String name = fields.string("name", "job");
        int agents = fields.integer("agentsPerRound", 1, 100_000, 2);
        int quorum = fields.integer("quorum", 1, agents, agents);
        int deadline = fields.integer("deadlineSeconds", 1, 7 * 24 * 3600, 600);
        int wait = fields.integer("waitForAgentsSeconds", 0, 30 * 24 * 3600, 0);
        long seed = (long) fields.number("seed", 0);
        int attempts = fields.integer("roundAttempts", 1, JobSpec.MAX_ROUND_ATTEMPTS, 1);
        int overSelected = overSelectedAgents(fields, agents);
        MethodSpec method = MethodRegistry.parse(provider, fields);
        return new JobSpec(name, agents, quorum, deadline, wait, seed, attempts, overSelected, method);
    }

    /** A field that is neither common nor the method's own is refused, naming the method it belongs to if any. */
    private static void checkFieldNames(SpecFields fields, MethodProvider<?> provider) {
        Set<String> allowed = new TreeSet<>(COMMON_FIELDS);
        allowed.addAll(provider.fields());
        Set<String> unknown = new TreeSet<>(fields.names());
        unknown.removeAll(allowed);
        if (unknown.isEmpty()) {
            return;
        }
        String field = unknown.iterator().next();
        String owner = MethodRegistry.owningMethod(field).orElse(null);
        throw new InvalidJobSpecException(field, owner != null
                ? "only for method: " + owner + " (it belongs to " + owner + "; this job is " + provider.name() + "); expected one of " + allowed
                : "unknown field; expected one of " + allowed);
    }

    private static String alternatives(List<String> names) {
        if (names.size() <= 1) {
            return String.join("", names);
        }
        return String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
    }

    /** Extra agents a round selects beyond agentsPerRound: at most as many again. */
    private static int overSelectedAgents(SpecFields fields, int agentsPerRound) {
        if (!fields.has("overSelectedAgents")) {
            return 0;
        }
        double v = fields.number("overSelectedAgents", 0);
        if (v != Math.rint(v) || v < 0 || v > agentsPerRound) {
            throw new InvalidJobSpecException("overSelectedAgents", "expected a whole number in [0, " + agentsPerRound
                    + "] (at most agentsPerRound extra agents), got " + fields.raw("overSelectedAgents"));
        }
        return (int) v;
    }

    /** The canonical JSON form of a validated spec, stored with the job and parsed again at restart. */
    public static String toJson(JobSpec spec) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", spec.name());
        out.put("method", spec.methodName());
        MethodRegistry.write(spec.method(), out);
        out.put("agentsPerRound", spec.agentsPerRound());
        out.put("quorum", spec.quorum());
        out.put("deadlineSeconds", spec.deadlineSeconds());
        out.put("waitForAgentsSeconds", spec.waitForAgentsSeconds());
        out.put("seed", spec.seed());
        out.put("roundAttempts", spec.roundAttempts());
        out.put("overSelectedAgents", spec.overSelectedAgents());
        return JSON.writeValueAsString(out);
    }
}
