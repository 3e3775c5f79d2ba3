package dev.fedprune.coordinator.grpc;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.security.AgentPki;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Serves {@code DownloadArtifact}: streams an artifact from a requested offset in chunks, each with its
 * digest, as fast as the call's flow control allows; the last chunk carries the whole file's digest and
 * the coordinator's signature over (id, size, digest).
 */
final class ArtifactDownloads {
    static final int CHUNK_BYTES = 1 << 20;

    private final ArtifactStore artifacts;
    private final AgentPki pki;

    ArtifactDownloads(ArtifactStore artifacts, AgentPki pki) {
        this.artifacts = artifacts;
        this.pki = pki;
    }

    /** Starts streaming for the authenticated caller; errors before the first chunk end the call with their status. */
    void serve(DownloadArtifactRequest request, StreamObserver<ArtifactChunk> observer) {
        ServerCallStreamObserver<ArtifactChunk> call = (ServerCallStreamObserver<ArtifactChunk>) observer;
        ArtifactStore.Artifact artifact;
        FileChannel channel;
        try {
            AgentIdentityInterceptor.current(); // only an authenticated agent is served
            artifact = artifacts.get(request.getArtifactId());
            if (request.getOffset() < 0 || request.getOffset() > artifact.sizeBytes()) {
                throw new IllegalArgumentException("offset: " + request.getOffset() + " outside the artifact's " + artifact.sizeBytes() + " bytes");
            }
            channel = FileChannel.open(artifact.path(), StandardOpenOption.READ);
        } catch (Exception e) {
            observer.onError(GrpcErrors.toStatus("DownloadArtifact", e));
            return;
        }
        long[] position = {request.getOffset()};
        boolean[] done = {false};
        Runnable pump = () -> {
            try {
                while (!done[0] && call.isReady()) {
                    int n = (int) Math.min(CHUNK_BYTES, artifact.sizeBytes() - position[0]);
                    ByteBuffer buf = ByteBuffer.allocate(n);
                    while (buf.hasRemaining()) {
                        if (channel.read(buf, position[0] + buf.position()) < 0) {
                            throw new IOException("artifact " + artifact.id() + " shrank while being served");
                        }
                    }
                    byte[] data = buf.array();
                    boolean last = position[0] + n >= artifact.sizeBytes();
                    ArtifactChunk.Builder chunk = ArtifactChunk.newBuilder().setOffset(position[0]).setData(ByteString.copyFrom(data))
                            .setChunkSha256(Digests.sha256Hex(data)).setTotalSizeBytes(artifact.sizeBytes()).setLast(last);
                    if (last) {
                        chunk.setTotalSha256(artifact.sha256())
                                .setSignature(ByteString.copyFrom(pki.signArtifact(artifact.id(), artifact.sizeBytes(), artifact.sha256())));
                    }
                    observer.onNext(chunk.build());
                    position[0] += n;
                    if (last) {
                        done[0] = true;
                        channel.close();
                        observer.onCompleted();
                    }
                }
            } catch (IOException e) {
                done[0] = true;
                closeQuietly(channel);
                observer.onError(GrpcErrors.toStatus("DownloadArtifact", e));
            }
        };
        call.setOnCancelHandler(() -> {
            done[0] = true;
            closeQuietly(channel);
        });
        call.setOnReadyHandler(pump);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a read-only channel after the call ended; nothing to recover
        }
    }
}
