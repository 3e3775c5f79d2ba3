package dev.fedprune.agent.connection;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.enrollment.Enrollment;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.ContributionHeader;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import dev.fedprune.proto.v1.EnrollResponse;
import dev.fedprune.proto.v1.HeartbeatRequest;
import dev.fedprune.proto.v1.HeartbeatResponse;
import dev.fedprune.proto.v1.MetricsReport;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.RenewRequest;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskFailureAck;
import dev.fedprune.proto.v1.TaskFailureReport;
import dev.fedprune.proto.v1.UploadReceipt;
import dev.fedprune.proto.v1.UploadStatusRequest;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's connection to its coordinator: mutual TLS with the agent's certificate, the coordinator
 * pinned by its CA. Every call is retried with exponential backoff while the coordinator is
 * unavailable (Resilience4j); downloads and uploads resume from the last byte that both sides agree on
 * instead of starting over. Tasks and artifacts are used only when the coordinator's signature on
 * them verifies; every upload is signed with the agent's key.
 */
public final class CoordinatorClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorClient.class);
    static final int CHUNK_BYTES = 1 << 20;
    /**
     * Codes worth another try. UNKNOWN is among them: a coordinator that dies mid-call shows up as
     * {@code UNKNOWN: channel closed}, and every call of the contract is safe to repeat (uploads resume
     * from the committed offset, downloads from the partial file).
     */
    private static final Set<Status.Code> TRANSIENT = Set.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
            Status.Code.RESOURCE_EXHAUSTED, Status.Code.ABORTED, Status.Code.UNKNOWN);
    /**
     * The one back-off of every call, transfers included: exponential from 0.5 s, capped at 15 s, each
     * wait drawn uniformly within ±50% so that many agents cut off together do not come back in lockstep.
     */
    static final IntervalFunction BACKOFF = IntervalFunction.ofExponentialRandomBackoff(Duration.ofMillis(500), 2.0, 0.5, Duration.ofSeconds(15));

    // Replaced together when the certificate is renewed; in-flight calls finish on the old channel.
    private volatile ManagedChannel channel;
    private volatile AgentServiceGrpc.AgentServiceBlockingStub blocking;
    private volatile AgentServiceGrpc.AgentServiceStub async;
    private volatile AgentIdentity identity;
    private volatile Consumer<AgentIdentity> onRenewed = i -> { };
    private final Retry retry;
    private final ProxySettings proxy;

    /** A direct connection as the enrolled agent {@code identity}. */
    public CoordinatorClient(AgentIdentity identity, RetryConfig retryConfig) {
        this(identity, null, retryConfig);
    }

    /**
     * A connection as the enrolled agent {@code identity}, through {@code proxy} (null: direct); the
     * channels made after a certificate renewal go the same way.
     */
    public CoordinatorClient(AgentIdentity identity, ProxySettings proxy, RetryConfig retryConfig) {
        this.proxy = proxy;
        connect(identity);
        this.retry = Retry.of("coordinator", retryConfig);
        this.retry.getEventPublisher().onRetry(e -> log.warn("coordinator call failed ({}), retry {} in {} ms",
                e.getLastThrowable() == null ? "?" : e.getLastThrowable().getMessage(), e.getNumberOfRetryAttempts(), e.getWaitInterval().toMillis()));
    }

    /** Enrolls with a one-time token (see {@link Enrollment}) and connects as the new agent. */
    public static CoordinatorClient enroll(String target, String token, String caFingerprint, String name, String site,
                                           DeviceResources resources, RetryConfig retryConfig) {
        return enroll(target, token, caFingerprint, name, site, resources, null, retryConfig);
    }

    /** Enrolls and then connects through {@code proxy} (null: direct). */
    public static CoordinatorClient enroll(String target, String token, String caFingerprint, String name, String site,
                                           DeviceResources resources, ProxySettings proxy, RetryConfig retryConfig) {
        return new CoordinatorClient(Enrollment.enroll(target, token, caFingerprint, name, site, resources, proxy), proxy, retryConfig);
    }

    private synchronized void connect(AgentIdentity id) {
        ManagedChannel old = channel;
        ManagedChannel fresh = TlsChannels.mutualTls(id.coordinator(), PinnedCaTrustManager.forCertificate(id.caCertificate(), Clock.systemUTC()),
                id.privateKey(), id.certificate(), proxy);
        this.blocking = AgentServiceGrpc.newBlockingStub(fresh);
        this.async = AgentServiceGrpc.newStub(fresh);
        this.identity = id;
        this.channel = fresh;
        if (old != null) {
            old.shutdown();
        }
    }

    /** Retries transient failures for about a minute and a half, 0.5 s doubling up to 15 s. */
    public static RetryConfig defaultRetry() {
        return RetryConfig.custom()
                .maxAttempts(10)
                .intervalFunction(BACKOFF)
                .retryOnException(CoordinatorClient::isTransient)
                .build();
    }

    public static boolean isTransient(Throwable t) {
        return t instanceof StatusRuntimeException s && TRANSIENT.contains(s.getStatus().getCode());
    }

    private <T> T call(Supplier<T> body) {
        return Retry.decorateSupplier(retry, body).get();
    }

    public AgentIdentity identity() {
        return identity;
    }

    /** Called with the new identity after each renewal (e.g. to save it in the work directory). */
    public void onRenewed(Consumer<AgentIdentity> listener) {
        this.onRenewed = listener;
    }

    /** Renews the certificate once two thirds of its lifetime have passed; true when it did. */
    public boolean renewIfDue() {
        if (!identity.renewalDue(Instant.now())) {
            return false;
        }
        renew();
        return true;
    }

    /** A new certificate for a new key, over the current mTLS identity; no enrollment token needed. */
    public AgentIdentity renew() {
        AgentIdentity current = identity;
        KeyPair keys = KeyPairs.generate();
        EnrollResponse r = call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                .renew(RenewRequest.newBuilder().setCsrPem(Csrs.create(keys, current.agentId())).build()));
        AgentIdentity renewed = Enrollment.accept(current.coordinator(), r, keys.getPrivate(), keys.getPublic(), current.caCertificate());
        if (!renewed.agentId().equals(current.agentId())) {
            throw new SignatureRejectedException("renewal returned a certificate for " + renewed.agentId() + ", not " + current.agentId());
        }
        connect(renewed);
        log.info("{}: certificate renewed, valid until {}", renewed.agentId(), renewed.notAfter());
        onRenewed.accept(renewed);
        return renewed;
    }

    /** Reports the agent's state; the response names the tasks the coordinator no longer wants a contribution for. */
    public HeartbeatResponse heartbeat(AgentState state, String currentTaskId) {
        return call(() -> blocking.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder()
                .setState(state).setCurrentTaskId(currentTaskId == null ? "" : currentTaskId).build()));
    }

    /**
     * The next task, taken from the signed bytes after the coordinator's signature verified.
     *
     * @throws SignatureRejectedException when a task comes unsigned or with a signature that does not verify
     */
    public PullTaskResponse pullTask() {
        PullTaskResponse r = call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).pullTask(PullTaskRequest.getDefaultInstance()));
        if (!r.hasTask()) {
            return r;
        }
        AgentIdentity id = identity;
        byte[] signed = r.getSignedTask().toByteArray();
        Signatures.verify(id.signingCertificate().getPublicKey(), Statements.task(id.agentId(), signed), r.getTaskSignature().toByteArray(),
                "task " + r.getTask().getTaskId());
        try {
            return r.toBuilder().setTask(Task.parseFrom(signed)).build();
        } catch (InvalidProtocolBufferException e) {
            throw new SignatureRejectedException("signed_task: the signed bytes are not a Task message: " + e.getMessage());
        }
    }

    public void reportMetrics(Task task, Map<String, Double> values) {
        call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).reportMetrics(MetricsReport.newBuilder()
                .setJobId(task.getJobId()).setRoundIndex(task.getRoundIndex())
                .setTaskId(task.getTaskId()).putAllValues(values).build()));
    }

    /**
     * Tells the coordinator that this agent cannot finish {@code task}; retried like every call.
     *
     * @param reason    one line for operators, at most 500 characters
     * @param retryable whether this agent may succeed if it tries the same task again later
     */
    public TaskFailureAck reportTaskFailure(Task task, String reason, boolean retryable) {
        return call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).reportTaskFailure(TaskFailureReport.newBuilder()
                .setTaskId(task.getTaskId()).setReason(reason).setRetryable(retryable).build()));
    }

    /** How long to wait after the {@code failures}-th failure in a row (from 1): the calls' own back-off. */
    public static long backoffMillis(int failures) {
        return BACKOFF.apply(Math.max(1, failures));
    }

    /**
     * Downloads an artifact into {@code target}, checking every chunk's hash and the whole file's
     * digest; a partial {@code target.part} from an earlier attempt is resumed.
     *
     * @return bytes received over the network
     */
    public long download(String artifactId, String expectedSha256, Path target) throws IOException {
        return download(artifactId, expectedSha256, target, ProgressListener.NONE);
    }

    /** As {@link #download(String, String, Path)}, telling {@code progress} the bytes on disk (stage "download") as they arrive. */
    public long download(String artifactId, String expectedSha256, Path target, ProgressListener progress) throws IOException {
        Path partial = target.resolveSibling(target.getFileName() + ".part");
        Files.createDirectories(target.toAbsolutePath().getParent());
        long received = 0;
        for (int attempt = 1; ; attempt++) {
            long offset = Files.exists(partial) ? Files.size(partial) : 0;
            try {
                received += downloadFrom(artifactId, partial, offset, progress);
                break;
            } catch (StatusRuntimeException e) {
                if (!isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("download of {} interrupted at {} bytes ({}), resuming", artifactId, Files.size(partial), e.getStatus().getCode());
                sleep(BACKOFF.apply(attempt));
            }
        }
        String sha = Digests.sha256Hex(partial);
        if (!sha.equals(expectedSha256)) {
            Files.delete(partial);
            throw new IOException("artifact " + artifactId + " arrived with SHA-256 " + sha + ", expected " + expectedSha256);
        }
        Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return received;
    }

    private long downloadFrom(String artifactId, Path partial, long offset, ProgressListener progress) throws IOException {
        var chunks = blocking.withDeadlineAfter(1, TimeUnit.HOURS).downloadArtifact(DownloadArtifactRequest.newBuilder()
                .setArtifactId(artifactId).setOffset(offset).build());
        long received = 0;
        long position = offset;
        try (OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            while (chunks.hasNext()) {
                ArtifactChunk chunk = chunks.next();
                if (chunk.getOffset() != position) {
                    throw new IOException("artifact " + artifactId + ": chunk at offset " + chunk.getOffset() + ", expected " + position);
                }
                byte[] data = chunk.getData().toByteArray();
                if (!Digests.sha256Hex(data).equals(chunk.getChunkSha256())) {
                    throw new IOException("artifact " + artifactId + ": chunk at offset " + position + " fails its SHA-256");
                }
                out.write(data);
                position += data.length;
                received += data.length;
                progress.progress("download", position, chunk.getTotalSizeBytes());
                if (chunk.getLast()) {
                    verifyArtifactSignature(artifactId, chunk);
                }
            }
        }
        return received;
    }

    /** The coordinator signs (id, size, digest) on the last chunk; the digest itself is checked over the bytes afterwards. */
    private void verifyArtifactSignature(String artifactId, ArtifactChunk last) throws IOException {
        try {
            Signatures.verify(identity.signingCertificate().getPublicKey(), Statements.artifact(artifactId, last.getTotalSizeBytes(), last.getTotalSha256()),
                    last.getSignature().toByteArray(), "artifact " + artifactId);
        } catch (SignatureRejectedException e) {
            throw new IOException("artifact " + artifactId + " refused: " + e.getMessage(), e);
        }
    }

    /**
     * Uploads a contribution payload in chunks. If the connection breaks, asks the coordinator how
     * much it committed and resumes from there.
     */
    public UploadReceipt upload(Task task, String uploadId, byte[] payload) {
        String totalSha = Digests.sha256Hex(payload);
        // One nonce per contribution, the same across resumed attempts; the signature binds it to this task and digest.
        String nonce = ReplayGuard.newNonce();
        byte[] statement = Statements.contribution(task.getJobId(), task.getRoundIndex(), task.getTaskId(), identity.agentId(), totalSha, nonce);
        for (int attempt = 1; ; attempt++) {
            long offset = committedBytes(uploadId);
            // Signed per attempt with the current key: a renewal between attempts changes the certificate the coordinator checks against.
            byte[] signature = Signatures.sign(identity.privateKey(), statement);
            try {
                return uploadFrom(task, uploadId, payload, totalSha, offset, nonce, signature);
            } catch (StatusRuntimeException e) {
                if (!isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("upload {} interrupted ({}), resuming", uploadId, e.getStatus().getCode());
                sleep(BACKOFF.apply(attempt));
            }
        }
    }

    private long committedBytes(String uploadId) {
        return call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).getUploadStatus(UploadStatusRequest.newBuilder()
                .setUploadId(uploadId).build())).getCommittedBytes();
    }

    private UploadReceipt uploadFrom(Task task, String uploadId, byte[] payload, String totalSha, long offset, String nonce, byte[] signature) {
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        CompletableFuture<ClientCallStreamObserver<ContributionChunk>> requestSide = new CompletableFuture<>();
        StreamObserver<ContributionChunk> stream = async.withDeadlineAfter(1, TimeUnit.HOURS).uploadContribution(new ClientResponseObserver<ContributionChunk, UploadReceipt>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ContributionChunk> requestStream) {
                requestSide.complete(requestStream);
            }

            @Override
            public void onNext(UploadReceipt value) {
                result.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                result.completeExceptionally(new IllegalStateException("upload ended without a receipt"));
            }
        });
        ContributionHeader header = ContributionHeader.newBuilder().setTaskId(task.getTaskId()).setNonce(nonce)
                .setJobId(task.getJobId()).setRoundIndex(task.getRoundIndex()).setTotalSizeBytes(payload.length).build();
        long position = offset;
        boolean first = true;
        do {
            // Flow control: never queue more than the transport will take, so a large payload is not copied into buffers.
            while (!requestSide.join().isReady() && !result.isDone()) {
                sleep(1);
            }
            if (result.isDone()) {
                break; // the coordinator refused; its status is in the future
            }
            int n = (int) Math.min(CHUNK_BYTES, payload.length - position);
            MessageDigest md = Digests.sha256();
            md.update(payload, (int) position, n);
            ContributionChunk.Builder chunk = ContributionChunk.newBuilder().setUploadId(uploadId).setOffset(position)
                    .setData(ByteString.copyFrom(payload, (int) position, n)).setChunkSha256(Digests.hex(md.digest()));
            if (first) {
                chunk.setHeader(header);
                first = false;
            }
            position += n;
            if (position == payload.length) {
                chunk.setLast(true).setTotalSha256(totalSha).setSignature(ByteString.copyFrom(signature));
            }
            stream.onNext(chunk.build());
        } while (position < payload.length);
        stream.onCompleted();
        try {
            return result.get(1, TimeUnit.HOURS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException("upload " + uploadId + " failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        } catch (java.util.concurrent.TimeoutException e) {
            throw Status.DEADLINE_EXCEEDED.withDescription("no receipt for upload " + uploadId).asRuntimeException();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        }
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            channel.shutdownNow();
        }
    }
}
