package dev.fedprune.coordinator.agent;

import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.coordinator.error.UnauthenticatedException;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * Enrolled agents, their placeholder credentials and their liveness. An agent is online while its
 * last heartbeat is younger than the timeout. Secrets are stored only as SHA-256 hashes; the security
 * work replaces them with certificates from mTLS.
 */
public final class AgentRegistry {
    /** What an agent gets at enrollment: its id and the secret it must present. */
    public record Enrollment(String agentId, String secret) {
    }

    private final CoordinatorStore store;
    private final LongSupplier clock;
    private final long onlineTimeoutMillis;
    private final SecureRandom random = new SecureRandom();

    public AgentRegistry(CoordinatorStore store, LongSupplier clock, long onlineTimeoutMillis) {
        this.store = store;
        this.clock = clock;
        this.onlineTimeoutMillis = onlineTimeoutMillis;
    }

    public Enrollment enroll(String name, String site, String resources) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name: an agent needs a name");
        }
        byte[] secretBytes = new byte[32];
        random.nextBytes(secretBytes);
        String secret = HexFormat.of().formatHex(secretBytes);
        String id = "agent-" + UUID.randomUUID();
        long now = clock.getAsLong();
        store.insertAgent(new AgentRecord(id, name, site, hash(secret), resources, now, now, "IDLE", null));
        return new Enrollment(id, secret);
    }

    /** The agent these credentials belong to; refuses unknown agents and wrong secrets alike. */
    public AgentRecord authenticate(String agentId, String secret) {
        if (agentId == null || agentId.isEmpty() || secret == null || secret.isEmpty()) {
            throw new UnauthenticatedException("credentials: agent_id and secret are required; enroll first");
        }
        AgentRecord agent = store.agent(agentId).orElseThrow(() -> new UnauthenticatedException("credentials: unknown agent '" + agentId + "'"));
        if (!MessageDigest.isEqual(hash(secret).getBytes(StandardCharsets.US_ASCII), agent.secretSha256().getBytes(StandardCharsets.US_ASCII))) {
            throw new UnauthenticatedException("credentials: wrong secret for agent '" + agentId + "'");
        }
        return agent;
    }

    public void heartbeat(String agentId, String state, String currentTaskId, String resources) {
        store.heartbeat(agentId, clock.getAsLong(), state, currentTaskId, resources);
    }

    public boolean isOnline(AgentRecord agent) {
        return clock.getAsLong() - agent.lastHeartbeatAt() <= onlineTimeoutMillis;
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

    private static String hash(String secret) {
        return Digests.sha256Hex(secret.getBytes(StandardCharsets.UTF_8));
    }
}
