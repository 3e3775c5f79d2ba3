package dev.fedprune.coordinator.grpc;

import dev.fedprune.proto.v1.DeviceResources;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Bounds and validates every free-text value an agent sends before it is stored, logged or shown to
 * operators: a refused value is an {@link IllegalArgumentException} naming the field (INVALID_ARGUMENT
 * through {@link GrpcErrors}), never a database error. The limits sit below the columns' sizes.
 */
final class AgentInputs {
    static final int MAX_TEXT_CHARS = 200;
    static final int MAX_ID_CHARS = 64;
    static final int MAX_RESOURCE_TEXT_CHARS = 64;
    static final int MAX_METRICS = 256;
    static final int MAX_REASON_CHARS = 500;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private AgentInputs() {
    }

    /** Free text (a name, a site): at most {@code maxChars} characters, no control characters; may be empty. */
    static String text(String field, String value, int maxChars) {
        if (value.length() > maxChars) {
            throw new IllegalArgumentException(field + ": " + value.length() + " characters, at most " + maxChars + " allowed");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (GrpcErrors.unprintable(c)) {
                throw new IllegalArgumentException(field + ": control or format character U+" + String.format("%04X", (int) c) + " at index " + i);
            }
        }
        return value;
    }

    /** An identifier the coordinator issued (task id): letters, digits and {@code ._:-}, at most 64 characters. */
    static String id(String field, String value) {
        if (value.isEmpty() || value.length() > MAX_ID_CHARS || !value.chars().allMatch(c -> c < 128 && (Character.isLetterOrDigit(c) || ".-_:".indexOf(c) >= 0))) {
            throw new IllegalArgumentException(field + ": expected an identifier of 1 to " + MAX_ID_CHARS + " letters, digits or . _ : -, got "
                    + GrpcErrors.bounded(value) + " (" + value.length() + " characters)");
        }
        return value;
    }

    /** The agent's resources as the JSON object stored and shown on the agents page, built by the JSON library. */
    static String resources(DeviceResources r) {
        if (r.getCpuCores() < 0 || r.getMemoryBytes() < 0) {
            throw new IllegalArgumentException("resources: cpu_cores " + r.getCpuCores() + " and memory_bytes " + r.getMemoryBytes() + " must be >= 0");
        }
        ObjectNode node = JSON.createObjectNode();
        node.put("cpuCores", r.getCpuCores());
        node.put("memoryBytes", r.getMemoryBytes());
        node.put("accelerator", text("resources.accelerator", r.getAccelerator(), MAX_RESOURCE_TEXT_CHARS));
        node.put("deviceClass", text("resources.device_class", r.getDeviceClass(), MAX_RESOURCE_TEXT_CHARS));
        return JSON.writeValueAsString(node);
    }

    /** Why an agent's task failed, as operators read it in job events: non-empty bounded text. */
    static String failureReason(String reason) {
        if (reason.isBlank()) {
            throw new IllegalArgumentException("reason: required, what went wrong (at most " + MAX_REASON_CHARS + " characters)");
        }
        return text("reason", reason, MAX_REASON_CHARS);
    }

    /** Metric names: at most {@value #MAX_METRICS} per report, each bounded text. */
    static Map<String, Double> metrics(Map<String, Double> values) {
        if (values.size() > MAX_METRICS) {
            throw new IllegalArgumentException("values: " + values.size() + " metrics in one report, at most " + MAX_METRICS);
        }
        values.keySet().forEach(name -> {
            if (name.isEmpty()) {
                throw new IllegalArgumentException("values: a metric with an empty name");
            }
            text("values[" + GrpcErrors.bounded(name) + "]", name, MAX_TEXT_CHARS);
        });
        return values;
    }
}
