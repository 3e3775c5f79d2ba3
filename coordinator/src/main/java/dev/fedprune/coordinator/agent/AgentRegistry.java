package dev.fedprune.coordinator.agent;

import dev.fedprune.coordinator.error.UnauthenticatedException;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import java.util.List;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * Enrolled agents and their liveness. An agent is online while its last heartbeat is younger than
 * the timeout. Who an agent is comes from its client certificate (see the security package); this
 * registry only knows agents by the id that certificate names.
 */
public final class AgentRegistry {
    private final CoordinatorStore store;
    private final LongSupplier clock;
    private final long onlineTimeoutMillis;

    public AgentRegistry(CoordinatorStore store, LongSupplier clock, long onlineTimeoutMillis) {
        this.store = store;
        this.clock = clock;
        this.onlineTimeoutMillis = onlineTimeoutMillis;
    }

    public static String newAgentId() {
        return "agent-" + UUID.randomUUID();
    }

    /** Records a new agent; called by enrollment once its token and CSR were accepted. */
    public AgentRecord register(String id, String name, String site, String resources) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name: an agent needs a name");
        }
        if (name.length() > 200 || (site != null && site.length() > 200)) {
            throw new IllegalArgumentException("name/site: at most 200 characters");
        }
        long now = clock.getAsLong();
        AgentRecord agent = new AgentRecord(id, name, site, null, resources, now, now, "IDLE", null);
        store.insertAgent(agent);
        return agent;
    }

    /** The agent with this id, which a verified certificate named. */
    public AgentRecord get(String agentId) {
        return store.agent(agentId).orElseThrow(() -> new UnauthenticatedException("agent '" + agentId + "' is not enrolled here"));
    }

    public void heartbeat(String agentId, String state, String currentTaskId, String resources) {
        store.heartbeat(agentId, clock.getAsLong(), state, currentTaskId, resources);
    }

    public boolean isOnline(AgentRecord agent) {
        return !"REVOKED".equals(agent.state()) && clock.getAsLong() - agent.lastHeartbeatAt() <= onlineTimeoutMillis;
    }

    public List<AgentRecord> onlineAgents() {
        return store.agents().stream().filter(this::isOnline).toList();
    }

    private volatile long onlineCountedAt = Long.MIN_VALUE;
    private volatile int onlineCount;

    /** Number of online agents, recounted at most once a second (it is asked on every idle poll). */
    public int onlineCount() {
        long now = clock.getAsLong();
        if (now - onlineCountedAt > 1000) {
            onlineCount = onlineAgents().size();
            onlineCountedAt = now;
        }
        return onlineCount;
    }

    public List<AgentRecord> all() {
        return store.agents();
    }
}
