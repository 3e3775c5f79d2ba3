package dev.fedprune.agent.connection;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.enrollment.Enrollment;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.DeviceResources;
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
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
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
    private final ArtifactDownload artifactDownload = new ArtifactDownload(this);
    private final ContributionUpload contributionUpload = new ContributionUpload(this);

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

    /** Runs a call with the retry of every call. */
    <T> T call(Supplier<T> body) {
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
        return artifactDownload.download(artifactId, expectedSha256, target, progress);
    }

    /**
     * Uploads a contribution payload in chunks. If the connection breaks, asks the coordinator how
     * much it committed and resumes from there.
     */
    public UploadReceipt upload(Task task, String uploadId, byte[] payload) {
        return contributionUpload.upload(task, uploadId, payload);
    }

    /** As {@link #upload(Task, String, byte[])}, the payload read from a file one chunk at a time; {@code sha256} is the file's. */
    public UploadReceipt upload(Task task, String uploadId, Path payload, String sha256) {
        return contributionUpload.upload(task, uploadId, payload, sha256);
    }

    /** The stubs of the current channel (replaced on renewal). */
    AgentServiceGrpc.AgentServiceBlockingStub blocking() {
        return blocking;
    }

    AgentServiceGrpc.AgentServiceStub async() {
        return async;
    }

    /** Sleeps; an interrupt ends the transfer as CANCELLED (the thread stays interrupted). */
    static void sleep(long millis) {
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
