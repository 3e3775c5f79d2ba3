package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.TlsChannels;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.enrollment.Enrollment;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.ContributionHeader;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.EnrollRequest;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.RenewRequest;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.CertificateAuthority;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.pki.Fingerprints;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.secret.SecretTokens;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.function.Supplier;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on a real coordinator over real sockets: each is refused with a clear status, leaves an
 * audit entry, and changes nothing in the job.
 */
class SecurityRefusalTest {
    @TempDir
    Path dir;
    Federation fed;
    CoordinatorClient alice;
    CoordinatorClient bob;
    ManagedChannel aliceChannel;
    String jobId;
    final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        fed = new Federation(dir.resolve("coord"));
        alice = fed.enrolledClient("alice");
        bob = fed.enrolledClient("bob");
        jobId = fed.node.engine().submit(JobSpecParser.parse("""
            model: %s
            localPruner: magnitude
            sparsity: 0.5
            agentsPerRound: 2
            deadlineSeconds: 300
            """.formatted(model)));
        aliceChannel = channel(alice.identity().privateKey(), alice.identity().certificate());
    }

    @AfterEach
    void stop() throws Exception {
        channels.forEach(ManagedChannel::shutdownNow);
        alice.close();
        bob.close();
        fed.close();
    }

    ManagedChannel channel(PrivateKey key, X509Certificate cert) {
        PinnedCaTrustManager trust = PinnedCaTrustManager.forFingerprint(fed.caFingerprint(), Clock.systemUTC());
        ManagedChannel c = key == null ? TlsChannels.serverTls(fed.target(), trust) : TlsChannels.mutualTls(fed.target(), trust, key, cert);
        channels.add(c);
        return c;
    }

    // ------------------------------------------------------------------ helpers

    long audits(String event) {
        return fed.node.audit().entries(10_000, event).size();
    }

    /** Runs the attempt, expects the status and an audit entry of the event mentioning the fragment. */
    StatusRuntimeException refused(Status.Code code, String fragment, String auditEvent, Runnable attempt) {
        long before = audits(auditEvent);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, attempt::run);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().getDescription());
        String description = e.getStatus().getDescription();
        assertTrue(description != null && description.contains(fragment), () -> description + " should mention " + fragment);
        assertFalse(description.contains("Exception") || description.contains("\tat "), () -> "no stack trace to the caller: " + description);
        List<SecurityStore.AuditEntry> entries = fed.node.audit().entries(10_000, auditEvent);
        assertEquals(before + 1, entries.size(), "one audit entry for " + auditEvent);
        assertEquals("REFUSED", entries.get(0).outcome());
        assertTrue(entries.get(0).detail().contains(fragment), () -> entries.get(0).detail() + " should mention " + fragment);
        return e;
    }

    Task awaitTask(CoordinatorClient client) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            var r = client.pullTask();
            if (r.hasTask()) {
                return r.getTask();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no task");
    }

    long foldedTasks() {
        return fed.node.store().tasksOfJob(jobId).stream().filter(t -> t.state().equals("FOLDED")).count();
    }

    void assertJobUnchanged(Task task) {
        assertEquals(0, foldedTasks(), "nothing folded");
        assertEquals("PULLED", fed.node.store().task(task.getTaskId()).orElseThrow().state(), "the task stays open for the real agent");
        assertEquals("ROUND_OPEN", fed.node.store().job(jobId).orElseThrow().state());
    }

    /** An upload with every security field under the test's control. */
    static List<ContributionChunk> upload(Task task, String uploadId, byte[] payload, String nonce, int headerRound, Supplier<byte[]> signature) {
        List<ContributionChunk> out = new ArrayList<>();
        int chunk = 64;
        for (int off = 0; off < payload.length; off += chunk) {
            int n = Math.min(chunk, payload.length - off);
            ContributionChunk.Builder c = ContributionChunk.newBuilder().setUploadId(uploadId).setOffset(off)
                    .setData(ByteString.copyFrom(payload, off, n)).setChunkSha256(Digests.sha256Hex(payload, off, n));
            if (off == 0) {
                c.setHeader(ContributionHeader.newBuilder().setTaskId(task.getTaskId()).setJobId(task.getJobId()).setRoundIndex(headerRound)
                        .setNonce(nonce).setTotalSizeBytes(payload.length));
            }
            if (off + n == payload.length) {
                c.setLast(true).setTotalSha256(Digests.sha256Hex(payload)).setSignature(ByteString.copyFrom(signature.get()));
            }
            out.add(c.build());
        }
        return out;
    }

    byte[] sign(PrivateKey key, Task task, int round, byte[] payload, String nonce) {
        return Signatures.sign(key, Statements.contribution(task.getJobId(), round, task.getTaskId(), alice.identity().agentId(),
                Digests.sha256Hex(payload), nonce));
    }

    // ------------------------------------------------------------------ connections

    @Test
    void connectionWithoutClientCertificateIsRefused() {
        ManagedChannel anonymous = channel(null, null);
        refused(Status.Code.UNAUTHENTICATED, "no client certificate", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(anonymous).pullTask(PullTaskRequest.getDefaultInstance()));
        // A caller that keeps retrying is refused every time but does not flood the audit log.
        long entries = audits(AuditLog.CONNECTION_REFUSED);
        for (int i = 0; i < 3; i++) {
            assertThrows(StatusRuntimeException.class, () -> AgentServiceGrpc.newBlockingStub(anonymous).pullTask(PullTaskRequest.getDefaultInstance()));
        }
        assertEquals(entries, audits(AuditLog.CONNECTION_REFUSED));
    }

    @Test
    void certificateFromAnotherCaIsRefused() {
        // Same CA name as the coordinator's, different key: only the signature check can tell them apart.
        CertificateAuthority impostor = CertificateAuthority.create("FedPrune coordinator CA", Instant.now(), Duration.ofDays(1));
        KeyPair keys = KeyPairs.generate();
        X509Certificate forged = impostor.issueAgent(keys.getPublic(), alice.identity().agentId(), Instant.now(), Duration.ofHours(1));
        ManagedChannel c = channel(keys.getPrivate(), forged);
        refused(Status.Code.UNAUTHENTICATED, "does not verify with this coordinator's CA key", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(c).pullTask(PullTaskRequest.getDefaultInstance()));
    }

    @Test
    void namesFromAForeignCertificateAreEchoedBoundedAndEscaped() throws Exception {
        // Anyone can make a certificate with names as long as they like (RFC 5280's 64 characters is not enforced on the
        // wire); the refusal quotes the name, cut short and with control characters escaped.
        KeyPair keys = KeyPairs.generate();
        X500Name name = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, new DERUTF8String("x".repeat(2000) + "\u001b[31m")).build();
        Instant now = Instant.now();
        X509Certificate selfSigned = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(name, BigInteger.ONE,
                Date.from(now.minusSeconds(60)), Date.from(now.plusSeconds(3600)), name, keys.getPublic())
                .build(new JcaContentSignerBuilder(KeyPairs.SIGNATURE_ALGORITHM).build(keys.getPrivate())));
        ManagedChannel c = channel(keys.getPrivate(), selfSigned);
        StatusRuntimeException e = refused(Status.Code.UNAUTHENTICATED, "certificate of 'xxxx", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(c).pullTask(PullTaskRequest.getDefaultInstance()));
        String description = e.getStatus().getDescription();
        assertTrue(description.length() < 600, "description of " + description.length() + " characters");
        SecurityStore.AuditEntry entry = fed.node.audit().entries(1, AuditLog.CONNECTION_REFUSED).get(0);
        assertTrue(entry.detail().length() < 700, "audit detail of " + entry.detail().length() + " characters");
        assertFalse(description.contains("\u001b") || entry.detail().contains("\u001b") || entry.subject().contains("\u001b"),
                "control characters escaped");
    }

    @Test
    void expiredCertificateIsRefused() {
        KeyPair keys = KeyPairs.generate();
        X509Certificate expired = fed.node.pki().keys().ca().issueAgent(keys.getPublic(), alice.identity().agentId(),
                Instant.now().minus(Duration.ofHours(3)), Duration.ofHours(1));
        ManagedChannel c = channel(keys.getPrivate(), expired);
        refused(Status.Code.UNAUTHENTICATED, "expired at", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(c).pullTask(PullTaskRequest.getDefaultInstance()));
    }

    @Test
    void certificateTheCoordinatorNeverIssuedIsRefused() {
        KeyPair keys = KeyPairs.generate();
        X509Certificate unrecorded = fed.node.pki().keys().ca().issueAgent(keys.getPublic(), alice.identity().agentId(), Instant.now(), Duration.ofHours(1));
        ManagedChannel c = channel(keys.getPrivate(), unrecorded);
        refused(Status.Code.UNAUTHENTICATED, "never issued", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(c).pullTask(PullTaskRequest.getDefaultInstance()));
    }

    @Test
    void revokedAgentIsRefusedAtOnce() throws Exception {
        Task task = awaitTask(alice);
        fed.node.enrollment().revoke(alice.identity().agentId(), "laptop stolen", "test-operator");
        assertEquals("laptop stolen", fed.node.audit().entries(1, AuditLog.AGENT_REVOKED).get(0).detail());
        refused(Status.Code.UNAUTHENTICATED, "revoked", AuditLog.CONNECTION_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(aliceChannel).pullTask(PullTaskRequest.getDefaultInstance()));
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        String nonce = ReplayGuard.newNonce();
        refused(Status.Code.UNAUTHENTICATED, "revoked", AuditLog.CONNECTION_REFUSED, () -> {
            try {
                AgentServiceBadInputTest.send(aliceChannel, upload(task, "u-revoked", payload, nonce, 0,
                        () -> sign(alice.identity().privateKey(), task, 0, payload, nonce)));
            } catch (StatusRuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertJobUnchanged(task);
        assertFalse(fed.node.agents().isOnline(fed.node.agents().get(alice.identity().agentId())));
    }

    // ------------------------------------------------------------------ enrollment

    void enroll(String token) {
        Enrollment.enroll(fed.target(), token, fed.caFingerprint(), "mallory", "", DeviceResources.getDefaultInstance());
    }

    @Test
    void reusedExpiredForgedAndGarbageTokensAreRefused() {
        String token = fed.token();
        enroll(token);
        int agents = fed.node.agents().all().size();
        refused(Status.Code.UNAUTHENTICATED, "already used", AuditLog.ENROLLMENT_REFUSED, () -> enroll(token));

        String expired = SecretTokens.generate(SecretTokens.ENROLLMENT_PREFIX);
        long now = System.currentTimeMillis();
        fed.node.securityStore().insertEnrollmentToken("tok-old", SecretTokens.hash(expired), null, "test", now - 60_000, now - 1_000);
        refused(Status.Code.UNAUTHENTICATED, "expired at", AuditLog.ENROLLMENT_REFUSED, () -> enroll(expired));

        refused(Status.Code.UNAUTHENTICATED, "not a token this coordinator issued", AuditLog.ENROLLMENT_REFUSED,
                () -> enroll(SecretTokens.generate(SecretTokens.ENROLLMENT_PREFIX)));
        refused(Status.Code.UNAUTHENTICATED, "not a FedPrune enrollment token", AuditLog.ENROLLMENT_REFUSED, () -> enroll("'; drop table agents; --"));
        assertEquals(agents, fed.node.agents().all().size(), "no agent was created by a refused enrollment");
    }

    @Test
    void malformedCsrAndCsrForAnotherKeyAreRefusedWithoutSpendingTheToken() {
        String token = fed.token();
        var stub = AgentServiceGrpc.newBlockingStub(channel(null, null));
        refused(Status.Code.INVALID_ARGUMENT, "csr_pem: malformed PEM", AuditLog.ENROLLMENT_REFUSED, () -> stub.enroll(EnrollRequest.newBuilder()
                .setName("m").setEnrollmentToken(token).setCsrPem("-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n").build()));
        refused(Status.Code.INVALID_ARGUMENT, "csr_pem: required", AuditLog.ENROLLMENT_REFUSED,
                () -> stub.enroll(EnrollRequest.newBuilder().setName("m").setEnrollmentToken(token).build()));
        KeyPair a = KeyPairs.generate();
        KeyPair b = KeyPairs.generate();
        String otherKey = Csrs.create(new KeyPair(b.getPublic(), a.getPrivate()), "m");
        refused(Status.Code.INVALID_ARGUMENT, "proof of possession", AuditLog.ENROLLMENT_REFUSED,
                () -> stub.enroll(EnrollRequest.newBuilder().setName("m").setEnrollmentToken(token).setCsrPem(otherKey).build()));
        enroll(token); // still good: refusals above did not consume it
    }

    @Test
    void agentRefusesACoordinatorWithAnotherCaFingerprint() {
        String token = fed.token();
        String wrong = Fingerprints.of(CertificateAuthority.create("x", Instant.now(), Duration.ofDays(1)).certificate());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> Enrollment.enroll(fed.target(), token, wrong, "m", "", DeviceResources.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        Throwable cause = e;
        StringBuilder messages = new StringBuilder();
        while (cause != null) {
            messages.append(cause.getMessage()).append('\n');
            cause = cause.getCause();
        }
        assertTrue(messages.toString().contains("pinned fingerprint"), messages::toString);
        enroll(token); // the token never reached the impostor-checked coordinator
    }

    @Test
    void garbageRenewalRequestIsRefusedPrecisely() {
        refused(Status.Code.INVALID_ARGUMENT, "csr_pem", AuditLog.RENEWAL_REFUSED,
                () -> AgentServiceGrpc.newBlockingStub(aliceChannel).renew(RenewRequest.newBuilder().setCsrPem("\u0000\u0001garbage").build()));
    }

    @Test
    void renewalGivesANewCertificateWithoutAToken() throws Exception {
        AgentIdentity before = alice.identity();
        AgentIdentity after = alice.renew();
        assertEquals(before.agentId(), after.agentId());
        assertNotEquals(before.certificate().getSerialNumber(), after.certificate().getSerialNumber());
        assertNotEquals(before.certificate().getPublicKey(), after.certificate().getPublicKey(), "renewal rotates the key");
        assertEquals(after.agentId(), fed.node.audit().entries(1, AuditLog.AGENT_RENEWED).get(0).subject());
        awaitTask(alice); // the renewed identity works over a new mTLS connection
    }

    // ------------------------------------------------------------------ contributions

    @Test
    void tamperedPayloadIsRefused() throws Exception {
        Task task = awaitTask(alice);
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        String nonce = ReplayGuard.newNonce();
        byte[] signature = sign(alice.identity().privateKey(), task, 0, payload, nonce);
        byte[] tampered = payload.clone();
        tampered[tampered.length - 1] ^= 1; // a man in the middle flips a mask bit and fixes up the digests
        refusedUpload(task, Status.Code.PERMISSION_DENIED, "does not verify", upload(task, "u-tamper", tampered, nonce, 0, () -> signature));
    }

    @Test
    void wrongSignatureIsRefused() throws Exception {
        Task task = awaitTask(alice);
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        String nonce = ReplayGuard.newNonce();
        refusedUpload(task, Status.Code.PERMISSION_DENIED, "does not verify",
                upload(task, "u-wrongkey", payload, nonce, 0, () -> sign(KeyPairs.generate().getPrivate(), task, 0, payload, nonce)));
        refusedUpload(task, Status.Code.PERMISSION_DENIED, "malformed signature",
                upload(task, "u-garbage", payload, ReplayGuard.newNonce(), 0, () -> new byte[] {0x30, 0x02, 0x01}));
        refusedUpload(task, Status.Code.PERMISSION_DENIED, "is not signed",
                upload(task, "u-unsigned", payload, ReplayGuard.newNonce(), 0, () -> new byte[0]));
    }

    @Test
    void replayedNonceIsRefused() throws Exception {
        Task task = awaitTask(alice);
        Task bobTask = awaitTask(bob);
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        String nonce = ReplayGuard.newNonce();
        List<ContributionChunk> original = upload(task, "u-first", payload, nonce, 0, () -> sign(alice.identity().privateKey(), task, 0, payload, nonce));
        assertTrue(AgentServiceBadInputTest.send(aliceChannel, original).getFolded());
        assertEquals(1, foldedTasks());
        // The captured stream, replayed as is, then under a new upload id.
        for (List<ContributionChunk> replay : List.of(original, original.stream().map(c -> c.toBuilder().setUploadId("u-again").build()).toList())) {
            refused(Status.Code.PERMISSION_DENIED, "replay", AuditLog.CONTRIBUTION_REFUSED, () -> sendQuietly(replay));
        }
        assertEquals(1, foldedTasks());
        assertEquals("PULLED", fed.node.store().task(bobTask.getTaskId()).orElseThrow().state());
        assertEquals("ROUND_OPEN", fed.node.store().job(jobId).orElseThrow().state());
    }

    @Test
    void contributionForAnotherRoundIsRefused() throws Exception {
        Task task = awaitTask(alice);
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        String nonce = ReplayGuard.newNonce();
        refusedUpload(task, Status.Code.INVALID_ARGUMENT, "round_index",
                upload(task, "u-round", payload, nonce, 1, () -> sign(alice.identity().privateKey(), task, 1, payload, nonce)));
        // Signed for round 1 but declared for round 0: the signature does not cover what the coordinator expects.
        String nonce2 = ReplayGuard.newNonce();
        refusedUpload(task, Status.Code.PERMISSION_DENIED, "does not verify",
                upload(task, "u-round2", payload, nonce2, 0, () -> sign(alice.identity().privateKey(), task, 1, payload, nonce2)));
    }

    @Test
    void garbageNonceIsRefused() throws Exception {
        Task task = awaitTask(alice);
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        refusedUpload(task, Status.Code.INVALID_ARGUMENT, "header.nonce", upload(task, "u-nonce", payload, "", 0, () -> new byte[] {1}));
        refusedUpload(task, Status.Code.INVALID_ARGUMENT, "header.nonce", upload(task, "u-nonce2", payload, "\u00ff\u00fe<script>", 0, () -> new byte[] {1}));
    }

    void refusedUpload(Task task, Status.Code code, String fragment, List<ContributionChunk> chunks) {
        refused(code, fragment, AuditLog.CONTRIBUTION_REFUSED, () -> sendQuietly(chunks));
        assertJobUnchanged(task);
    }

    void sendQuietly(List<ContributionChunk> chunks) {
        try {
            AgentServiceBadInputTest.send(aliceChannel, chunks);
        } catch (StatusRuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    // ------------------------------------------------------------------ what the agent verifies

    @Test
    void tasksAndArtifactsAreSignedByTheCoordinator() throws Exception {
        awaitTask(alice); // the client verified the signature; now check the wire by hand
        PullTaskResponse r = AgentServiceGrpc.newBlockingStub(aliceChannel).pullTask(PullTaskRequest.getDefaultInstance());
        assertTrue(r.hasTask());
        var signingKey = alice.identity().signingCertificate().getPublicKey();
        Signatures.verify(signingKey, Statements.task(alice.identity().agentId(), r.getSignedTask().toByteArray()), r.getTaskSignature().toByteArray(), "task");
        assertEquals(r.getTask(), Task.parseFrom(r.getSignedTask()));
        byte[] altered = r.getTask().toBuilder().setDeadlineUnixMillis(Long.MAX_VALUE).build().toByteArray();
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(signingKey, Statements.task(alice.identity().agentId(), altered),
                r.getTaskSignature().toByteArray(), "task"));
        // Another agent cannot pass this task off as its own: the statement names the agent.
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(signingKey, Statements.task(bob.identity().agentId(),
                r.getSignedTask().toByteArray()), r.getTaskSignature().toByteArray(), "task"));

        var file = r.getTask().getModel().getFiles(0);
        Path target = dir.resolve("download").resolve(file.getPath());
        alice.download(file.getArtifactId(), file.getSha256(), target); // verifies the coordinator's signature on the last chunk
        assertEquals(file.getSha256(), Digests.sha256Hex(Files.readAllBytes(target)));
        var last = AgentServiceGrpc.newBlockingStub(aliceChannel).downloadArtifact(dev.fedprune.proto.v1.DownloadArtifactRequest.newBuilder()
                .setArtifactId(file.getArtifactId()).setOffset(file.getSizeBytes()).build()).next();
        assertTrue(last.getLast());
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(signingKey,
                Statements.artifact(file.getArtifactId(), last.getTotalSizeBytes() + 1, last.getTotalSha256()), last.getSignature().toByteArray(), "artifact"));
    }
}
