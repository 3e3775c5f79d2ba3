package dev.fedprune.coordinator.node;

import com.zaxxer.hikari.HikariDataSource;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.grpc.AgentServiceImpl;
import dev.fedprune.coordinator.round.EngineListener;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Database;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A whole coordinator without Spring: database, agent registry, artifact store, round engine and
 * the gRPC server. The Spring application wraps one of these; simulations start one directly.
 */
public final class CoordinatorNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorNode.class);

    /**
     * @param grpcPort              0 picks a free port
     * @param jdbcUrl               null = H2 file database under the data directory
     * @param agentTimeoutSeconds   an agent without heartbeat for this long is offline
     */
    public record Config(Path dataDir, String bindAddress, int grpcPort, String jdbcUrl, String jdbcUser, String jdbcPassword,
                         int agentTimeoutSeconds, int heartbeatIntervalSeconds, long tickMillis) {
        public static Config defaults(Path dataDir) {
            return new Config(dataDir, "0.0.0.0", 50051, null, "sa", "", 30, 5, 200);
        }

        public Config withGrpcPort(int port) {
            return new Config(dataDir, bindAddress, port, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis);
        }

        public Config withBindAddress(String address) {
            return new Config(dataDir, address, grpcPort, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis);
        }

        public String effectiveJdbcUrl() {
            return jdbcUrl != null && !jdbcUrl.isBlank() ? jdbcUrl
                    : "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("db").resolve("fedprune") + ";AUTO_SERVER=FALSE";
        }
    }

    private final HikariDataSource dataSource;
    private final CoordinatorStore store;
    private final AgentRegistry agents;
    private final ArtifactStore artifacts;
    private final RoundEngine engine;
    private final Server server;

    private CoordinatorNode(Config config, EngineListener listener) throws IOException {
        Files.createDirectories(config.dataDir());
        this.dataSource = Database.open(config.effectiveJdbcUrl(), config.jdbcUser(), config.jdbcPassword());
        this.store = new CoordinatorStore(dataSource);
        this.agents = new AgentRegistry(store, System::currentTimeMillis, config.agentTimeoutSeconds() * 1000L);
        this.artifacts = new ArtifactStore(config.dataDir().resolve("artifacts"));
        this.engine = new RoundEngine(store, agents, artifacts, config.dataDir(), System::currentTimeMillis, listener);
        HealthStatusManager health = new HealthStatusManager();
        this.server = NettyServerBuilder.forAddress(new InetSocketAddress(config.bindAddress(), config.grpcPort()))
                .addService(new AgentServiceImpl(agents, engine, artifacts, store, System::currentTimeMillis, config.heartbeatIntervalSeconds()))
                .addService(health.getHealthService())
                .maxInboundMessageSize(8 << 20)
                .build();
    }

    /** Opens the database, recovers unfinished jobs, starts the gRPC server and the engine's ticker. */
    public static CoordinatorNode start(Config config, EngineListener listener) throws IOException {
        CoordinatorNode node = new CoordinatorNode(config, listener);
        try {
            node.server.start();
        } catch (IOException e) {
            node.close();
            throw new IOException("cannot listen for gRPC on " + config.bindAddress() + ":" + config.grpcPort() + ": " + e.getMessage(), e);
        }
        node.engine.start(config.tickMillis());
        log.info("coordinator gRPC listening on {}:{}, data in {}", config.bindAddress(), node.grpcPort(), config.dataDir().toAbsolutePath());
        return node;
    }

    public int grpcPort() {
        return server.getPort();
    }

    public RoundEngine engine() {
        return engine;
    }

    public CoordinatorStore store() {
        return store;
    }

    public AgentRegistry agents() {
        return agents;
    }

    public ArtifactStore artifacts() {
        return artifacts;
    }

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        engine.close();
        dataSource.close();
    }
}
