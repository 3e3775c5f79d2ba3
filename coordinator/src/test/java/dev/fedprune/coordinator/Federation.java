package dev.fedprune.coordinator;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.round.EngineListener;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A coordinator and agents in this JVM, talking real gRPC over loopback with mutual TLS; agents
 * enroll through the real token flow; for integration tests.
 */
final class Federation implements AutoCloseable {
    final CoordinatorNode node;
    private final List<Thread> threads = new ArrayList<>();
    private final List<AgentLoop> loops = new ArrayList<>();
    private final List<CoordinatorClient> clients = new ArrayList<>();

    /** On the coordinator's default database, the H2 file in {@code dataDir}. */
    Federation(Path dataDir) throws IOException {
        this(dataDir, null, "sa", "");
    }

    /** On {@code database}, which outlives the federation: a restarted one on the same database finds its state. */
    Federation(Path dataDir, TestDatabase database) throws IOException {
        this(dataDir, database.url(), database.user(), database.password());
    }

    private Federation(Path dataDir, String jdbcUrl, String jdbcUser, String jdbcPassword) throws IOException {
        this.node = CoordinatorNode.start(new CoordinatorNode.Config(dataDir, "127.0.0.1", 0, jdbcUrl, jdbcUser, jdbcPassword,
                30, 1, 50, new CoordinatorNode.Security("test-keystore-password", java.util.List.of("localhost", "127.0.0.1"), Duration.ofHours(1))),
                EngineListener.NONE);
    }

    /** A one-shot FedPrLLM job for two agents: magnitude masks at 50% sparsity of the model in {@code model}. */
    static String twoAgentMaskJob(Path model) {
        return """
            model: %s
            localPruner: magnitude
            sparsity: 0.5
            agentsPerRound: 2
            deadlineSeconds: 300
            """.formatted(model);
    }

    String target() {
        return "127.0.0.1:" + node.grpcPort();
    }

    String token() {
        return node.enrollment().mintToken("test-site", Duration.ofMinutes(5), "test").token();
    }

    String caFingerprint() {
        return node.pki().caFingerprint();
    }

    CoordinatorClient enrolledClient(String name) {
        return enrolledClient(name, DeviceResources.newBuilder().setCpuCores(1).build());
    }

    /** An agent enrolled reporting these resources (its memory sizes a FedSpaLLM agent's share of the layers). */
    CoordinatorClient enrolledClient(String name, DeviceResources resources) {
        CoordinatorClient client = CoordinatorClient.enroll(target(), token(), caFingerprint(), name, "test-site",
                resources, CoordinatorClient.defaultRetry());
        clients.add(client);
        return client;
    }

    void startAgent(String name, Path data, Path workDir, Map<PruneMethod, MaskEngine> engines) {
        startAgent(workDir, engines, new AgentLoop.Options(name, data, true, 60_000, 1));
    }

    void startAgent(Path workDir, Map<PruneMethod, MaskEngine> engines, AgentLoop.Options options) {
        startAgent(enrolledClient(options.name()), workDir, engines, options);
    }

    /** An agent loop on a client the test connected itself (e.g. through a proxy); the client is closed with the federation. */
    void startAgent(CoordinatorClient client, Path workDir, Map<PruneMethod, MaskEngine> engines, AgentLoop.Options options) {
        String name = options.name();
        if (!clients.contains(client)) {
            clients.add(client);
        }
        AgentLoop loop = new AgentLoop(client, new ModelCache(client, workDir, null), engines, options);
        Thread t = new Thread(loop::run, "agent-" + name);
        t.setDaemon(true);
        t.start();
        threads.add(t);
        loops.add(loop);
    }

    JobRecord awaitFinal(String jobId, long timeoutMillis) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < end) {
            JobRecord job = node.store().job(jobId).orElseThrow();
            if (JobState.valueOf(job.state()).isFinal()) {
                return job;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + jobId + " not finished after " + timeoutMillis + " ms: " + node.store().job(jobId).orElseThrow()
                + "\n" + node.store().events(jobId));
    }

    @Override
    public void close() throws InterruptedException {
        loops.forEach(AgentLoop::stop);
        for (Thread t : threads) {
            t.join(10_000);
        }
        clients.forEach(CoordinatorClient::close);
        node.close();
    }
}
