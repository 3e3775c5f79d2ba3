package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.CoordinatorKeyStore;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.DeferredClientTrustManager;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent against a coordinator impostor that holds a valid TLS certificate (the network is not the
 * only attacker): tasks and artifacts whose signatures do not verify are never used.
 */
class AgentVerifiesCoordinatorSignaturesTest {
    static final String AGENT = "agent-under-test";
    static final byte[] ARTIFACT = "model bytes".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    CoordinatorKeyStore keys;
    Server server;
    CoordinatorClient client;
    final AtomicReference<PullTaskResponse> nextTask = new AtomicReference<>();
    final AtomicReference<byte[]> artifactSignature = new AtomicReference<>();

    @BeforeEach
    void start() throws Exception {
        keys = CoordinatorKeyStore.openOrCreate(dir.resolve("ks.p12"), "pw".toCharArray(), List.of("localhost", "127.0.0.1"), Instant.now());
        server = NettyServerBuilder.forPort(0).sslContext(GrpcSslContexts.configure(SslContextBuilder.forServer(keys.serverKey(), keys.serverChain())
                .trustManager(new DeferredClientTrustManager()).clientAuth(ClientAuth.OPTIONAL)).build())
                .addService(new AgentServiceGrpc.AgentServiceImplBase() {
                    @Override
                    public void pullTask(PullTaskRequest request, StreamObserver<PullTaskResponse> observer) {
                        observer.onNext(nextTask.get());
                        observer.onCompleted();
                    }

                    @Override
                    public void downloadArtifact(DownloadArtifactRequest request, StreamObserver<ArtifactChunk> observer) {
                        observer.onNext(ArtifactChunk.newBuilder().setOffset(0).setData(ByteString.copyFrom(ARTIFACT))
                                .setChunkSha256(Digests.sha256Hex(ARTIFACT)).setTotalSizeBytes(ARTIFACT.length).setLast(true)
                                .setTotalSha256(Digests.sha256Hex(ARTIFACT)).setSignature(ByteString.copyFrom(artifactSignature.get())).build());
                        observer.onCompleted();
                    }
                }).build().start();
        KeyPair agentKeys = KeyPairs.generate();
        AgentIdentity identity = new AgentIdentity("127.0.0.1:" + server.getPort(), AGENT, agentKeys.getPrivate(),
                keys.ca().issueAgent(agentKeys.getPublic(), AGENT, Instant.now(), Duration.ofHours(1)), keys.ca().certificate(),
                keys.signingCertificate(), 1);
        client = new CoordinatorClient(identity, CoordinatorClient.defaultRetry());
    }

    @AfterEach
    void stop() {
        client.close();
        server.shutdownNow();
    }

    static Task task(String id) {
        return Task.newBuilder().setTaskId(id).setJobId("job-1").setRoundIndex(0).build();
    }

    PullTaskResponse signedBy(java.security.PrivateKey key, Task shown, Task signed, String forAgent) {
        byte[] bytes = signed.toByteArray();
        return PullTaskResponse.newBuilder().setTask(shown).setSignedTask(ByteString.copyFrom(bytes))
                .setTaskSignature(ByteString.copyFrom(Signatures.sign(key, Statements.task(forAgent, bytes)))).build();
    }

    @Test
    void usesOnlyTasksTheCoordinatorSigned() {
        nextTask.set(signedBy(keys.signingKey(), task("t-1"), task("t-1"), AGENT));
        assertEquals("t-1", client.pullTask().getTask().getTaskId());

        nextTask.set(signedBy(KeyPairs.generate().getPrivate(), task("t-2"), task("t-2"), AGENT));
        var e = assertThrows(SignatureRejectedException.class, client::pullTask);
        assertTrue(e.getMessage().contains("does not verify"), e.getMessage());

        nextTask.set(signedBy(keys.signingKey(), task("t-3"), task("t-3"), "another-agent"));
        assertThrows(SignatureRejectedException.class, client::pullTask, "a task signed for another agent");

        nextTask.set(PullTaskResponse.newBuilder().setTask(task("t-4")).build());
        assertTrue(assertThrows(SignatureRejectedException.class, client::pullTask).getMessage().contains("not signed"));

        // The unsigned task field says one thing, the signed bytes another: the agent uses the signed bytes.
        nextTask.set(signedBy(keys.signingKey(), task("t-evil"), task("t-5"), AGENT));
        assertEquals("t-5", client.pullTask().getTask().getTaskId());
    }

    @Test
    void usesOnlyArtifactsTheCoordinatorSigned() throws Exception {
        String id = "sha256:" + Digests.sha256Hex(ARTIFACT);
        Path target = dir.resolve("a.bin");
        artifactSignature.set(Signatures.sign(keys.signingKey(), Statements.artifact(id, ARTIFACT.length, Digests.sha256Hex(ARTIFACT))));
        client.download(id, Digests.sha256Hex(ARTIFACT), target);
        assertTrue(Files.isRegularFile(target));

        Path forged = dir.resolve("b.bin");
        artifactSignature.set(Signatures.sign(KeyPairs.generate().getPrivate(), Statements.artifact(id, ARTIFACT.length, Digests.sha256Hex(ARTIFACT))));
        IOException e = assertThrows(IOException.class, () -> client.download(id, Digests.sha256Hex(ARTIFACT), forged));
        assertTrue(e.getMessage().contains("refused"), e.getMessage());
        assertFalse(Files.exists(forged), "a refused artifact is never moved into place");
    }
}
