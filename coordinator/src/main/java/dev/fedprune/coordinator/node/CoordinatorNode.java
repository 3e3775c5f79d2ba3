package dev.fedprune.coordinator.node;

import com.zaxxer.hikari.HikariDataSource;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.grpc.AgentIdentityInterceptor;
import dev.fedprune.coordinator.grpc.AgentServiceImpl;
import dev.fedprune.coordinator.grpc.RequestParsing;
import dev.fedprune.coordinator.security.AgentPki;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.security.EnrollmentService;
import dev.fedprune.coordinator.round.EngineListener;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Database;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.security.pki.CoordinatorKeyStore;
import dev.fedprune.security.pki.Fingerprints;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.tls.DeferredClientTrustManager;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A whole coordinator without Spring: database, keystore and CA, agent registry, artifact store,
 * round engine and the gRPC server (TLS, with agent identity from client certificates; gRPC health
 * and server reflection need no certificate). The Spring application wraps one of these; simulations
 * start one directly.
 */
public final class CoordinatorNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorNode.class);

    /**
     * @param grpcPort              0 picks a free port
     * @param jdbcUrl               null = H2 file database under the data directory
     * @param agentTimeoutSeconds   an agent without heartbeat for this long is offline
     */
    public record Config(Path dataDir, String bindAddress, int grpcPort, String jdbcUrl, String jdbcUser, String jdbcPassword,
                         int agentTimeoutSeconds, int heartbeatIntervalSeconds, long tickMillis, Security security) {
        /** Without security settings: a generated keystore password, default names and certificate validity. */
        public Config(Path dataDir, String bindAddress, int grpcPort, String jdbcUrl, String jdbcUser, String jdbcPassword,
                      int agentTimeoutSeconds, int heartbeatIntervalSeconds, long tickMillis) {
            this(dataDir, bindAddress, grpcPort, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis,
                    Security.defaults());
        }

        public static Config defaults(Path dataDir) {
            return new Config(dataDir, "0.0.0.0", 50051, null, "sa", "", 30, 5, 200);
        }

        public Config withGrpcPort(int port) {
            return new Config(dataDir, bindAddress, port, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis, security);
        }

        public Config withBindAddress(String address) {
            return new Config(dataDir, address, grpcPort, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis, security);
        }

        public Config withSecurity(Security s) {
            return new Config(dataDir, bindAddress, grpcPort, jdbcUrl, jdbcUser, jdbcPassword, agentTimeoutSeconds, heartbeatIntervalSeconds, tickMillis, s);
        }

        public String effectiveJdbcUrl() {
            return jdbcUrl != null && !jdbcUrl.isBlank() ? jdbcUrl
                    : "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("db").resolve("fedprune") + ";AUTO_SERVER=FALSE";
        }
    }

    /**
     * @param keystorePassword          protects {@code <dataDir>/security/coordinator.p12}; blank = generated once into
     *                                  {@code keystore.password} beside it (for development only)
     * @param serverNames               host names and addresses put into the TLS server certificate
     * @param agentCertificateValidity  lifetime of an agent certificate; agents renew before it ends
     */
    public record Security(String keystorePassword, List<String> serverNames, Duration agentCertificateValidity) {
        public static Security defaults() {
            return new Security(null, List.of("localhost", "127.0.0.1"), Duration.ofDays(7));
        }

        @Override
        public String toString() {
            return "Security[keystorePassword=" + (keystorePassword == null || keystorePassword.isEmpty() ? "(generated)" : "***")
                    + ", serverNames=" + serverNames + ", agentCertificateValidity=" + agentCertificateValidity + "]";
        }
    }

    private final HikariDataSource dataSource;
    private final CoordinatorStore store;
    private final AgentRegistry agents;
    private final ArtifactStore artifacts;
    private final RoundEngine engine;
    private final Server server;
    private final HealthStatusManager grpcHealth = new HealthStatusManager();
    private final AtomicBoolean serving = new AtomicBoolean(true);
    private final SecurityStore securityStore;
    private final AuditLog audit;
    private final AgentPki pki;
    private final EnrollmentService enrollment;

    private CoordinatorNode(Config config, EngineListener listener) throws IOException {
        Files.createDirectories(config.dataDir());
        // Keys first: a wrong keystore password stops the start before anything else is opened.
        Security security = config.security() == null ? Security.defaults() : config.security();
        if (security.agentCertificateValidity().compareTo(Duration.ofMinutes(10)) < 0 || security.agentCertificateValidity().compareTo(Duration.ofDays(365)) > 0) {
            // Certificates are backdated 5 minutes for clock skew; much shorter lifetimes would make agents renew on every heartbeat.
            throw new IllegalArgumentException("fedprune.security.agent-certificate-validity: between 10 minutes and 365 days, got "
                    + security.agentCertificateValidity());
        }
        CoordinatorKeyStore keys = CoordinatorKeyStore.openOrCreate(config.dataDir().resolve("security").resolve("coordinator.p12"),
                keystorePassword(config.dataDir(), security), security.serverNames(), Instant.now());
        this.dataSource = Database.open(config.effectiveJdbcUrl(), config.jdbcUser(), config.jdbcPassword());
        this.store = new CoordinatorStore(dataSource);
        this.agents = new AgentRegistry(store, System::currentTimeMillis, config.agentTimeoutSeconds() * 1000L);
        this.artifacts = new ArtifactStore(config.dataDir().resolve("artifacts"));
        this.securityStore = new SecurityStore(dataSource);
        this.audit = new AuditLog(securityStore, System::currentTimeMillis);
        this.pki = new AgentPki(keys, securityStore, System::currentTimeMillis, security.agentCertificateValidity());
        this.engine = new RoundEngine(store, agents, artifacts, pki::identify, config.dataDir(), System::currentTimeMillis, listener);
        this.enrollment = new EnrollmentService(securityStore, agents, pki, audit, System::currentTimeMillis);
        AgentServiceImpl service = new AgentServiceImpl(agents, engine, artifacts, store, System::currentTimeMillis, config.heartbeatIntervalSeconds(),
                pki, enrollment, new ReplayGuard(securityStore), audit);
        this.server = NettyServerBuilder.forAddress(new InetSocketAddress(config.bindAddress(), config.grpcPort()))
                .sslContext(serverTls(keys))
                // The caller's certificate is checked before a request is read; a request that does not parse is INVALID_ARGUMENT.
                .addService(ServerInterceptors.intercept(RequestParsing.refusingUnparseable(service.bindService()),
                        new AgentIdentityInterceptor(pki, agents, audit)))
                // Health and reflection are for operators' tools, which hold the CA certificate but no agent certificate.
                .addService(grpcHealth.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .addService(olderReflection())
                .maxInboundMessageSize(8 << 20)
                // Bounded lives: a connection is asked to go after 30 minutes (agents reconnect at once) and its
                // calls get 5 more to finish, so no stream outlives its authentication by more than 35 minutes;
                // an idle connection goes after 10.
                .maxConnectionAge(30, java.util.concurrent.TimeUnit.MINUTES)
                .maxConnectionAgeGrace(5, java.util.concurrent.TimeUnit.MINUTES)
                .maxConnectionIdle(10, java.util.concurrent.TimeUnit.MINUTES)
                .build();
    }

    /** Reflection v1alpha as well as v1: grpcurl before 1.9 and other older tools ask only the older one. */
    @SuppressWarnings("deprecation")
    private static io.grpc.BindableService olderReflection() {
        return ProtoReflectionService.newInstance();
    }

    /** Server TLS for everyone; a client certificate is asked for, and checked per call by the identity interceptor. */
    private static SslContext serverTls(CoordinatorKeyStore keys) throws IOException {
        return GrpcSslContexts.configure(SslContextBuilder.forServer(keys.serverKey(), keys.serverChain())
                .trustManager(new DeferredClientTrustManager()).clientAuth(ClientAuth.OPTIONAL)).build();
    }

    /** The configured password, or one generated once into the data directory (development only; never logged). */
    private static char[] keystorePassword(Path dataDir, Security security) throws IOException {
        if (security.keystorePassword() != null && !security.keystorePassword().isBlank()) {
            return security.keystorePassword().toCharArray();
        }
        Path file = dataDir.resolve("security").resolve("keystore.password");
        if (!Files.exists(file)) {
            Files.createDirectories(file.getParent());
            byte[] random = new byte[24];
            new SecureRandom().nextBytes(random);
            Files.writeString(file, Base64.getUrlEncoder().withoutPadding().encodeToString(random));
            CoordinatorKeyStore.restrictToOwner(file);
            log.warn("no keystore password configured (fedprune.security.keystore.password, env FEDPRUNE_SECURITY_KEYSTORE_PASSWORD):"
                    + " generated one into {}; configure one in production", file.toAbsolutePath());
        }
        return Files.readString(file).trim().toCharArray();
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
        node.grpcHealth.setStatus(AgentServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
        node.engine.start(config.tickMillis());
        log.info("coordinator gRPC (TLS) listening on {}:{}, data in {}", config.bindAddress(), node.grpcPort(), config.dataDir().toAbsolutePath());
        log.info("coordinator CA fingerprint (SHA-256), for `fedprune-agent enroll --ca-fingerprint`: {}", Fingerprints.display(node.pki.caFingerprint()));
        return node;
    }

    public AgentPki pki() {
        return pki;
    }

    public EnrollmentService enrollment() {
        return enrollment;
    }

    public AuditLog audit() {
        return audit;
    }

    public SecurityStore securityStore() {
        return securityStore;
    }

    public int grpcPort() {
        return server.getPort();
    }

    /** The addresses the gRPC server listens on; empty once it was shut down. */
    public List<? extends SocketAddress> grpcListenAddresses() {
        if (server.isShutdown()) {
            return List.of();
        }
        try {
            return server.getListenSockets();
        } catch (IllegalStateException terminated) {
            return List.of();
        }
    }

    /** Whether gRPC health checks are answered SERVING: true from the start until {@link #stopServing()}. */
    public boolean grpcServing() {
        return serving.get();
    }

    /**
     * The first step of shutdown: gRPC health answers NOT_SERVING (and tells every watcher) while the
     * server still takes calls, so that load balancers and probes stop sending work before connections
     * are closed. It cannot be undone; calling it again does nothing.
     */
    public void stopServing() {
        if (serving.compareAndSet(true, false)) {
            grpcHealth.enterTerminalState();
            log.info("coordinator shutting down: gRPC health is NOT_SERVING");
        }
    }

    /** The pool the store uses, for the database health check. */
    public HikariDataSource dataSource() {
        return dataSource;
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
        stopServing();
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
