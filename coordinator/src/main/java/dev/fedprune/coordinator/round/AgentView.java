package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.store.Records.AgentRecord;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * An agent as a {@link JobMethod} sees it when the engine gives it work: its id (what contributions are
 * folded under), its name, and the memory it reported at enrollment or in its last heartbeat
 * ({@code DeviceResources.memory_bytes}, kept in the agent's stored resources; 0 when it reported none).
 */
public record AgentView(String id, String name, long memoryBytes) {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    public AgentView {
        if (memoryBytes < 0) {
            throw new IllegalArgumentException("agent " + id + ": memoryBytes must be >= 0, got " + memoryBytes);
        }
    }

    /** Whether the agent reported how much memory it has. */
    public boolean reportedMemory() {
        return memoryBytes > 0;
    }

    /** The agent's view, its memory read from the resources JSON it reported (see {@code AgentInputs.resources}). */
    public static AgentView of(AgentRecord agent) {
        long memory = 0;
        if (agent.resources() != null && !agent.resources().isBlank()) {
            JsonNode reported = JSON.readTree(agent.resources()).path("memoryBytes");
            memory = reported.isIntegralNumber() ? Math.max(0, reported.asLong()) : 0;
        }
        return new AgentView(agent.id(), agent.name(), memory);
    }
}
