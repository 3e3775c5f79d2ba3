package dev.fedprune.agent.connection;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.AgentCredentials;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.ContributionHeader;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import dev.fedprune.proto.v1.EnrollRequest;
import dev.fedprune.proto.v1.EnrollResponse;
import dev.fedprune.proto.v1.HeartbeatRequest;
import dev.fedprune.proto.v1.MetricsReport;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.UploadReceipt;
import dev.fedprune.proto.v1.UploadStatusRequest;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's connection to its coordinator. Every call is retried with exponential backoff while the
 * coordinator is unavailable (Resilience4j); downloads and uploads resume from the last byte that
 * both sides agree on instead of starting over.
 */
public final class CoordinatorClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorClient.class);
    static final int CHUNK_BYTES = 1 << 20;
    private static final Set<Status.Code> TRANSIENT = Set.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
            Status.Code.RESOURCE_EXHAUSTED, Status.Code.ABORTED);

    private final ManagedChannel channel;
    private final AgentServiceGrpc.AgentServiceBlockingStub blocking;
    private final AgentServiceGrpc.AgentServiceStub async;
    private final Retry retry;
    private AgentCredentials credentials = AgentCredentials.getDefaultInstance();

    public CoordinatorClient(String target, RetryConfig retryConfig) {
        this.channel = NettyChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(8 << 20).build();
        this.blocking = AgentServiceGrpc.newBlockingStub(channel);
        this.async = AgentServiceGrpc.newStub(channel);
        this.retry = Retry.of("coordinator", retryConfig);
        this.retry.getEventPublisher().onRetry(e -> log.warn("coordinator call failed ({}), retry {} in {} ms",
                e.getLastThrowable() == null ? "?" : e.getLastThrowable().getMessage(), e.getNumberOfRetryAttempts(), e.getWaitInterval().toMillis()));
    }

    /** Retries transient failures for about a minute and a half, 0.5 s doubling up to 15 s. */
    public static RetryConfig defaultRetry() {
        return RetryConfig.custom()
                .maxAttempts(10)
                .intervalFunction(IntervalFunction.ofExponentialBackoff(Duration.ofMillis(500), 2.0, Duration.ofSeconds(15)))
                .retryOnException(CoordinatorClient::isTransient)
                .build();
    }

    public static boolean isTransient(Throwable t) {
        return t instanceof StatusRuntimeException s && TRANSIENT.contains(s.getStatus().getCode());
    }

    private <T> T call(Supplier<T> body) {
        return Retry.decorateSupplier(retry, body).get();
    }

    public void useCredentials(AgentCredentials credentials) {
        this.credentials = credentials;
    }

    public AgentCredentials credentials() {
        return credentials;
    }

    public EnrollResponse enroll(String name, String site, DeviceResources resources) {
        EnrollResponse r = call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                .enroll(EnrollRequest.newBuilder().setName(name).setSite(site).setResources(resources).build()));
        credentials = r.getCredentials();
        return r;
    }

    public void heartbeat(AgentState state, String currentTaskId) {
        call(() -> blocking.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder()
                .setCredentials(credentials).setState(state).setCurrentTaskId(currentTaskId == null ? "" : currentTaskId).build()));
    }

    public PullTaskResponse pullTask() {
        return call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                .pullTask(PullTaskRequest.newBuilder().setCredentials(credentials).build()));
    }

    public void reportMetrics(Task task, Map<String, Double> values) {
        call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).reportMetrics(MetricsReport.newBuilder()
                .setCredentials(credentials).setJobId(task.getJobId()).setRoundIndex(task.getRoundIndex())
                .setTaskId(task.getTaskId()).putAllValues(values).build()));
    }

    /**
     * Downloads an artifact into {@code target}, checking every chunk's hash and the whole file's
     * digest; a partial {@code target.part} from an earlier attempt is resumed.
     *
     * @return bytes received over the network
     */
    public long download(String artifactId, String expectedSha256, Path target) throws IOException {
        Path partial = target.resolveSibling(target.getFileName() + ".part");
        Files.createDirectories(target.toAbsolutePath().getParent());
        long received = 0;
        for (int attempt = 1; ; attempt++) {
            long offset = Files.exists(partial) ? Files.size(partial) : 0;
            try {
                received += downloadFrom(artifactId, partial, offset);
                break;
            } catch (StatusRuntimeException e) {
                if (!isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("download of {} interrupted at {} bytes ({}), resuming", artifactId, Files.size(partial), e.getStatus().getCode());
                sleep(Math.min(15_000, 500L << Math.min(attempt, 5)));
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

    private long downloadFrom(String artifactId, Path partial, long offset) throws IOException {
        var chunks = blocking.withDeadlineAfter(1, TimeUnit.HOURS).downloadArtifact(DownloadArtifactRequest.newBuilder()
                .setCredentials(credentials).setArtifactId(artifactId).setOffset(offset).build());
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
            }
        }
        return received;
    }

    /**
     * Uploads a contribution payload in chunks. If the connection breaks, asks the coordinator how
     * much it committed and resumes from there.
     */
    public UploadReceipt upload(Task task, String uploadId, byte[] payload) {
        String totalSha = Digests.sha256Hex(payload);
        for (int attempt = 1; ; attempt++) {
            long offset = committedBytes(uploadId);
            try {
                return uploadFrom(task, uploadId, payload, totalSha, offset);
            } catch (StatusRuntimeException e) {
                if (!isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("upload {} interrupted ({}), resuming", uploadId, e.getStatus().getCode());
                sleep(Math.min(15_000, 500L << Math.min(attempt, 5)));
            }
        }
    }

    private long committedBytes(String uploadId) {
        return call(() -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).getUploadStatus(UploadStatusRequest.newBuilder()
                .setCredentials(credentials).setUploadId(uploadId).build())).getCommittedBytes();
    }

    private UploadReceipt uploadFrom(Task task, String uploadId, byte[] payload, String totalSha, long offset) {
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
        ContributionHeader header = ContributionHeader.newBuilder().setCredentials(credentials).setTaskId(task.getTaskId())
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
                chunk.setLast(true).setTotalSha256(totalSha);
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
