package dev.fedprune.coordinator.health;

import dev.fedprune.coordinator.node.CoordinatorNode;
import java.util.List;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The agent-facing gRPC server: UP while it listens and its gRPC health answers SERVING; DOWN from
 * the first step of shutdown on, so that readiness drops together with the gRPC health.
 */
public final class GrpcHealthIndicator implements HealthIndicator {
    private final CoordinatorNode node;

    public GrpcHealthIndicator(CoordinatorNode node) {
        this.node = node;
    }

    @Override
    public Health health() {
        boolean serving = node.grpcServing();
        List<String> listening = node.grpcListenAddresses().stream().map(String::valueOf).toList();
        Health.Builder health = serving && !listening.isEmpty() ? Health.up() : Health.down();
        health.withDetail("listening", listening).withDetail("grpcHealth", serving ? "SERVING" : "NOT_SERVING");
        if (listening.isEmpty()) {
            health.withDetail("error", "the gRPC server is shut down");
        } else if (!serving) {
            health.withDetail("error", "shutting down: gRPC health answers NOT_SERVING");
        }
        return health.build();
    }
}
