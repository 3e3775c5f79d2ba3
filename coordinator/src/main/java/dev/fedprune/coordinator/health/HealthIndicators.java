package dev.fedprune.coordinator.health;

import dev.fedprune.coordinator.app.CoordinatorProperties;
import dev.fedprune.coordinator.node.CoordinatorNode;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The coordinator's parts in {@code /actuator/health}, named by their beans: {@code db}, {@code grpc}
 * and {@code engine}. The node opens its own pool, so Spring's DataSource check does not apply.
 */
@Configuration
public class HealthIndicators {
    @Bean
    DatabaseHealthIndicator dbHealthIndicator(CoordinatorNode node, CoordinatorProperties p) {
        return new DatabaseHealthIndicator(node.dataSource(), p.health().databaseTimeout());
    }

    @Bean
    GrpcHealthIndicator grpcHealthIndicator(CoordinatorNode node) {
        return new GrpcHealthIndicator(node);
    }

    @Bean
    EngineHealthIndicator engineHealthIndicator(CoordinatorNode node, CoordinatorProperties p) {
        return new EngineHealthIndicator(node.engine(), System::currentTimeMillis, p.health().engineStalledAfter());
    }
}
