package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.cli.AgentCli;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.NoProxy;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.engine.CpuInfo;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.enrollment.Enrollment;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.DeviceResources;
import io.github.resilience4j.retry.RetryConfig;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agents behind an HTTP CONNECT proxy ({@link ConnectProxy}, a real one on a loopback port): enrollment
 * and a whole job through it, with the coordinator under a name that only the proxy resolves; the
 * refusals an operator must be able to tell apart (bad proxy credentials, no proxy there, a
 * TLS-inspecting proxy); and {@code no_proxy} taking the direct path.
 */
class AgentBehindProxyTest {
    /** Resolves nowhere (RFC 6761 .invalid); the proxy maps it to the coordinator's loopback address. */
    static final String HIDDEN_NAME = "coordinator.behind-proxy.invalid";
    static final DeviceResources ONE_CPU = DeviceResources.newBuilder().setCpuCores(1).build();
    /** The engine self-check is not what this test is about: it passes without loading a native engine. */
    static final EngineSelfCheck.Report SELF_CHECK_PASSED = new EngineSelfCheck.Report(List.of(), 0, CpuInfo.current(), false, 0);

    @TempDir
    static Path dir;
    static Federation fed;

    @BeforeAll
    static void start() throws Exception {
        fed = new Federation(dir.resolve("coord"));
    }

    @AfterAll
    static void stop() throws Exception {
        fed.close();
    }

    static ProxySettings proxy(String url) {
        return ProxySettings.parse(url, "test");
    }

    @Test
    void agentEnrollsAndCompletesAJobOnlyThroughTheProxy() throws Exception {
        assertThrows(UnknownHostException.class, () -> InetAddress.getByName(HIDDEN_NAME), "premise: the agent's host cannot resolve the name");
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        Path data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n");
        // A coordinator of its own: agents enrolled by the other tests would count as online here and be selected.
        try (Federation job = new Federation(dir.resolve("coord-job"));
             ConnectProxy proxy = ConnectProxy.relaying("alice", "p@ss:word", Map.of(HIDDEN_NAME, "127.0.0.1"))) {
            String target = HIDDEN_NAME + ":" + job.node.grpcPort();
            Path passwordFile = Files.writeString(dir.resolve("proxy-password"), "p@ss:word\n");
            Path workdir = dir.resolve("agent-behind-proxy");

            // The operator's path: `enroll` with the proxy flags, the password from a file.
            assertEquals(0, AgentCli.execute("enroll", "--coordinator", target, "--token", job.token(), "--ca-fingerprint", job.caFingerprint(),
                    "--name", "behind-proxy", "--workdir", workdir.toString(), "--proxy", "http://alice@127.0.0.1:" + proxy.port(),
                    "--proxy-password-file", passwordFile.toString(), "--no-proxy", ""));
            assertEquals(List.of(target), proxy.tunnels(), "enrollment: one tunnel, to the name the agent was given");

            // Then the run: heartbeats, pull, model download, upload, metrics, all over mTLS through the proxy.
            AgentIdentity identity = AgentIdentity.load(workdir);
            CoordinatorClient client = new CoordinatorClient(identity, proxy("http://alice:p%40ss%3Aword@127.0.0.1:" + proxy.port()),
                    CoordinatorClient.defaultRetry());
            job.startAgent(client, workdir, Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()),
                    new AgentLoop.Options("behind-proxy", data, true, 60_000, 1).withEngineSelfCheck(() -> SELF_CHECK_PASSED));
            String jobId = job.node.engine().submit(JobSpecParser.parse("""
                    model: %s
                    localPruner: magnitude
                    sparsity: 0.5
                    agentsPerRound: 1
                    quorum: 1
                    deadlineSeconds: 120
                    """.formatted(model)));
            JobRecord done = job.awaitFinal(jobId, 60_000);
            assertEquals("COMPLETED", done.state(), () -> done.failureReason() + " " + job.node.store().events(jobId));
            assertEquals(1, job.node.store().rounds(jobId).size());

            List<String> tunnels = proxy.tunnels();
            assertTrue(tunnels.size() >= 2, "enrollment and the mTLS channel: " + tunnels);
            assertTrue(tunnels.stream().allMatch(target::equals), "every tunnel leads to the coordinator: " + tunnels);
            long modelBytes = Files.size(model.resolve("model.safetensors"));
            assertTrue(proxy.bytesRelayed() > modelBytes, "the model download crossed the proxy: " + proxy.bytesRelayed() + " bytes for a "
                    + modelBytes + "-byte model");
            assertEquals(0, proxy.refusedCredentials());
        }
    }

    @Test
    void wrongProxyCredentialsAreRefusedWith407AndTheAgentSaysSo() throws Exception {
        try (ConnectProxy proxy = ConnectProxy.relaying("alice", "right-password", Map.of())) {
            String token = fed.token();
            Path wrongFile = Files.writeString(dir.resolve("wrong-password"), "wrong-password\n");
            Path workdir = dir.resolve("agent-407");
            String[] enroll = {"enroll", "--coordinator", fed.target(), "--token", token, "--ca-fingerprint", fed.caFingerprint(),
                    "--workdir", workdir.toString(), "--proxy", "http://alice@127.0.0.1:" + proxy.port(), "--no-proxy", "",
                    "--proxy-password-file", wrongFile.toString()};
            Cli run = Cli.run(enroll);
            assertEquals(1, run.exit());
            assertTrue(run.err().contains("PERMISSION_DENIED: the HTTP proxy 127.0.0.1:" + proxy.port()
                    + " (--proxy) refused the credentials of proxy user 'alice' (407 Proxy Authentication Required)"), run.err());
            assertFalse(run.err().contains("wrong-password"), "the password is never printed");
            assertEquals(1, proxy.refusedCredentials());
            assertEquals(List.of(), proxy.tunnels());
            assertFalse(AgentIdentity.existsIn(workdir));

            // No credentials at all: the agent says the proxy wants some, and how to give them.
            StatusRuntimeException none = assertThrows(StatusRuntimeException.class, () -> Enrollment.enroll(fed.target(), token,
                    fed.caFingerprint(), "m", "", ONE_CPU, proxy("http://127.0.0.1:" + proxy.port())));
            assertEquals(Status.Code.PERMISSION_DENIED, none.getStatus().getCode());
            assertTrue(none.getStatus().getDescription().startsWith("the HTTP proxy 127.0.0.1:" + proxy.port()
                    + " (test) requires credentials (407 Proxy Authentication Required); give them as http://USER@host:port"), none::getMessage);

            // The run's calls fail the same way, at once: a refusal is not retried like an outage.
            AgentIdentity identity = fed.enrolledClient("creds-later").identity();
            try (CoordinatorClient client = new CoordinatorClient(identity, proxy("http://alice:nope@127.0.0.1:" + proxy.port()),
                    CoordinatorClient.defaultRetry())) {
                long start = System.nanoTime();
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.heartbeat(AgentState.AGENT_STATE_IDLE, null));
                assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
                assertTrue(e.getStatus().getDescription().contains("refused the credentials of proxy user 'alice'"), e::getMessage);
                assertTrue(System.nanoTime() - start < 5_000_000_000L, "no back-off retries on a refusal");
            }

            // The token never reached the coordinator: with the right password it still enrolls.
            Path rightFile = Files.writeString(dir.resolve("right-password"), "right-password");
            enroll[enroll.length - 1] = rightFile.toString();
            assertEquals(0, AgentCli.execute(enroll));
            assertEquals(List.of(fed.target()), proxy.tunnels());
        }
    }

    @Test
    void aProxyThatCannotBeReachedIsNamed() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> Enrollment.enroll(fed.target(), fed.token(),
                fed.caFingerprint(), "m", "", ONE_CPU, proxy("http://127.0.0.1:" + closedPort)));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        assertEquals("the HTTP proxy 127.0.0.1:" + closedPort + " (test) could not be reached: Connection refused", e.getStatus().getDescription());

        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> Enrollment.enroll(fed.target(), fed.token(),
                fed.caFingerprint(), "m", "", ONE_CPU, proxy("http://proxy.nowhere.invalid:3128")));
        assertEquals(Status.Code.UNAVAILABLE, unknown.getStatus().getCode());
        assertEquals("the HTTP proxy host 'proxy.nowhere.invalid' (test) does not resolve", unknown.getStatus().getDescription());
    }

    @Test
    void aNoProxyMatchConnectsDirectly() throws Exception {
        try (ConnectProxy proxy = ConnectProxy.relaying(null, null, Map.of())) {
            ProxySettings settings = proxy("http://127.0.0.1:" + proxy.port());
            Enrollment.enroll(fed.target(), fed.token(), fed.caFingerprint(), "direct", "", ONE_CPU,
                    settings.withNoProxy(NoProxy.parse("localhost, 127.0.0.0/8", "test")));
            assertEquals(List.of(), proxy.tunnels(), "127.0.0.1 is in no_proxy: no tunnel");

            // The same without the exception does go through the proxy: the direct path above was the no_proxy match.
            Enrollment.enroll(fed.target(), fed.token(), fed.caFingerprint(), "proxied", "", ONE_CPU, settings);
            assertEquals(List.of(fed.target()), proxy.tunnels());
        }
    }

    @Test
    void aTlsInspectingProxyFailsThePinnedCaCheckAndTheAgentNamesTheLikelyCause() throws Exception {
        try (ConnectProxy proxy = ConnectProxy.inspecting(Map.of())) {
            ProxySettings settings = proxy("http://127.0.0.1:" + proxy.port());
            String token = fed.token();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> Enrollment.enroll(fed.target(), token, fed.caFingerprint(), "m", "", ONE_CPU, settings));
            String message = e.getStatus().getDescription();
            assertTrue(message.startsWith("the coordinator's certificate was not issued by the pinned CA"), message);
            assertTrue(message.contains("CN=Inspecting Proxy CA'"), message);
            assertTrue(message.contains("a TLS-inspecting proxy on the way, which presents its own certificate"), message);
            assertTrue(message.endsWith("(calls go through the HTTP proxy 127.0.0.1:" + proxy.port() + " (test))"), message);
            assertEquals(List.of(fed.target()), proxy.tunnels(), "the proxy did see the CONNECT");

            // An enrolled agent (CA certificate pinned) says the same on its mutual-TLS calls.
            AgentIdentity identity = fed.enrolledClient("inspected").identity();
            try (CoordinatorClient client = new CoordinatorClient(identity, settings, RetryConfig.custom().maxAttempts(1).build())) {
                StatusRuntimeException run = assertThrows(StatusRuntimeException.class, () -> client.heartbeat(AgentState.AGENT_STATE_IDLE, null));
                assertTrue(run.getStatus().getDescription().startsWith("the coordinator's certificate was not issued by the pinned CA"), run::getMessage);
                assertTrue(run.getStatus().getDescription().contains("TLS-inspecting proxy"), run::getMessage);
            }
        }
    }

    /** An agent CLI command's exit code and standard error. */
    record Cli(int exit, String err) {
        static Cli run(String... args) {
            PrintStream original = System.err;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                int exit = AgentCli.execute(args);
                return new Cli(exit, captured.toString(StandardCharsets.UTF_8));
            } finally {
                System.setErr(original);
            }
        }
    }
}
