package dev.fedprune.agent.connection;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.ContributionHeader;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.UploadReceipt;
import dev.fedprune.proto.v1.UploadStatusRequest;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contribution upload of a {@link CoordinatorClient}: the payload in flow-controlled chunks, each
 * with its hash, the last signed with the agent's key over (task, digest, nonce); after a transient
 * failure it asks the coordinator how much it committed and resumes from there. The payload is an array
 * or a file read one chunk at a time, so that a large contribution never sits in the heap whole.
 */
final class ContributionUpload {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorClient.class); // transfers log as the client did
    static final int CHUNK_BYTES = 1 << 20;

    private final CoordinatorClient client;

    ContributionUpload(CoordinatorClient client) {
        this.client = client;
    }

    /**
     * Uploads a contribution payload in chunks. If the connection breaks, asks the coordinator how
     * much it committed and resumes from there.
     */
    UploadReceipt upload(Task task, String uploadId, byte[] payload) {
        return upload(task, uploadId, new Bytes(payload, Digests.sha256Hex(payload)));
    }

    /**
     * Uploads a contribution payload from a file, one chunk in memory at a time.
     *
     * @param sha256 the file's SHA-256 (hex), computed as it was written
     */
    UploadReceipt upload(Task task, String uploadId, Path payload, String sha256) {
        try (FileChannel channel = FileChannel.open(payload, StandardOpenOption.READ)) {
            return upload(task, uploadId, new FileBytes(payload, channel, channel.size(), sha256));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the contribution file " + payload, e);
        }
    }

    /** The bytes of a payload: its size, digest and chunks. */
    private interface Payload {
        long size();

        String sha256();

        ByteString chunk(long offset, int n);
    }

    private record Bytes(byte[] data, String sha256) implements Payload {
        @Override
        public long size() {
            return data.length;
        }

        @Override
        public ByteString chunk(long offset, int n) {
            return ByteString.copyFrom(data, (int) offset, n);
        }
    }

    private record FileBytes(Path file, FileChannel channel, long size, String sha256) implements Payload {
        @Override
        public ByteString chunk(long offset, int n) {
            ByteBuffer buffer = ByteBuffer.allocate(n);
            try {
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer, offset + buffer.position()) < 0) {
                        throw new IOException("ends at " + (offset + buffer.position()) + " bytes, " + size + " expected");
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the contribution file " + file + ": " + e.getMessage(), e);
            }
            buffer.flip();
            return ByteString.copyFrom(buffer);
        }
    }

    private UploadReceipt upload(Task task, String uploadId, Payload payload) {
        String totalSha = payload.sha256();
        // One nonce per contribution, the same across resumed attempts; the signature binds it to this task and digest.
        String nonce = ReplayGuard.newNonce();
        byte[] statement = Statements.contribution(task.getJobId(), task.getRoundIndex(), task.getTaskId(), client.identity().agentId(), totalSha, nonce);
        for (int attempt = 1; ; attempt++) {
            long offset = committedBytes(uploadId);
            // Signed per attempt with the current key: a renewal between attempts changes the certificate the coordinator checks against.
            byte[] signature = Signatures.sign(client.identity().privateKey(), statement);
            try {
                return uploadFrom(task, uploadId, payload, totalSha, offset, nonce, signature);
            } catch (StatusRuntimeException e) {
                if (!CoordinatorClient.isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("upload {} interrupted ({}), resuming", uploadId, e.getStatus().getCode());
                CoordinatorClient.sleep(CoordinatorClient.BACKOFF.apply(attempt));
            }
        }
    }

    private long committedBytes(String uploadId) {
        return client.call(() -> client.blocking().withDeadlineAfter(30, TimeUnit.SECONDS).getUploadStatus(UploadStatusRequest.newBuilder()
                .setUploadId(uploadId).build())).getCommittedBytes();
    }

    private UploadReceipt uploadFrom(Task task, String uploadId, Payload payload, String totalSha, long offset, String nonce, byte[] signature) {
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        CompletableFuture<ClientCallStreamObserver<ContributionChunk>> requestSide = new CompletableFuture<>();
        StreamObserver<ContributionChunk> stream = client.async().withDeadlineAfter(1, TimeUnit.HOURS).uploadContribution(new ClientResponseObserver<ContributionChunk, UploadReceipt>() {
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
                .setJobId(task.getJobId()).setRoundIndex(task.getRoundIndex()).setTotalSizeBytes(payload.size()).build();
        long position = offset;
        boolean first = true;
        do {
            // Flow control: never queue more than the transport will take, so a large payload is not copied into buffers.
            while (!requestSide.join().isReady() && !result.isDone()) {
                CoordinatorClient.sleep(1);
            }
            if (result.isDone()) {
                break; // the coordinator refused; its status is in the future
            }
            int n = (int) Math.min(CHUNK_BYTES, payload.size() - position);
            ByteString data = payload.chunk(position, n);
            MessageDigest md = Digests.sha256();
            data.asReadOnlyByteBufferList().forEach(md::update);
            ContributionChunk.Builder chunk = ContributionChunk.newBuilder().setUploadId(uploadId).setOffset(position)
                    .setData(data).setChunkSha256(Digests.hex(md.digest()));
            if (first) {
                chunk.setHeader(header);
                first = false;
            }
            position += n;
            if (position == payload.size()) {
                chunk.setLast(true).setTotalSha256(totalSha).setSignature(ByteString.copyFrom(signature));
            }
            stream.onNext(chunk.build());
        } while (position < payload.size());
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
        } catch (TimeoutException e) {
            throw Status.DEADLINE_EXCEEDED.withDescription("no receipt for upload " + uploadId).asRuntimeException();
        }
    }
}
