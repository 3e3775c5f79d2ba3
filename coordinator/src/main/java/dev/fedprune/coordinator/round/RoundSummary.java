package dev.fedprune.coordinator.round;

import java.util.function.UnaryOperator;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * What a closed round produced, as stored with the round and read by the REST API and the dashboard: the
 * agents whose contributions were aggregated, the method's own typed part ({@link Detail}), the quality the
 * agents measured of the model the round started from, and how long aggregation took. Stored as one flat
 * JSON object: the detail's fields beside {@code agents}, {@code quality} and {@code aggregationMillis}.
 *
 * @param quality null when no agent measured the model
 */
public record RoundSummary(int agents, Detail detail, RoundQuality.Summary quality, long aggregationMillis) {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The method-specific part of a round summary: a record whose components are the JSON fields. */
    public interface Detail {
        /** The same detail with agent ids replaced by names where it names agents (operators read names). */
        default Detail withAgentNames(UnaryOperator<String> nameOf) {
            return this;
        }
    }

    /** What a method returns from closing a round; the engine adds the quality and the time. */
    public static RoundSummary of(int agents, Detail detail) {
        return new RoundSummary(agents, detail, null, 0);
    }

    RoundSummary measured(RoundQuality.Summary quality, long aggregationMillis, UnaryOperator<String> nameOf) {
        return new RoundSummary(agents, detail.withAgentNames(nameOf), quality, aggregationMillis);
    }

    public String toJson() {
        ObjectNode out = JSON.createObjectNode();
        out.put("agents", agents);
        JSON.valueToTree(detail).properties().forEach(e -> out.set(e.getKey(), e.getValue()));
        if (quality != null) {
            out.set("quality", JSON.valueToTree(quality));
        }
        out.put("aggregationMillis", aggregationMillis);
        return JSON.writeValueAsString(out);
    }
}
