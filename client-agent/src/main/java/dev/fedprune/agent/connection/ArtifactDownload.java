package dev.fedprune.agent.connection;

import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The artifact download of a {@link CoordinatorClient}: a partial file resumed after each transient
 * failure, every chunk's hash checked as it arrives, the coordinator's signature on the last chunk and
 * the whole file's digest checked before the file takes its name.
 */
final class ArtifactDownload {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorClient.class); // transfers log as the client did

    private final CoordinatorClient client;

    ArtifactDownload(CoordinatorClient client) {
        this.client = client;
    }

    long download(String artifactId, String expectedSha256, Path target, ProgressListener progress) throws IOException {
        Path partial = target.resolveSibling(target.getFileName() + ".part");
        Files.createDirectories(target.toAbsolutePath().getParent());
        long received = 0;
        for (int attempt = 1; ; attempt++) {
            long offset = Files.exists(partial) ? Files.size(partial) : 0;
            try {
                received += downloadFrom(artifactId, partial, offset, progress);
                break;
            } catch (StatusRuntimeException e) {
                if (!CoordinatorClient.isTransient(e) || attempt >= 10) {
                    throw e;
                }
                log.warn("download of {} interrupted at {} bytes ({}), resuming", artifactId, Files.size(partial), e.getStatus().getCode());
                CoordinatorClient.sleep(CoordinatorClient.BACKOFF.apply(attempt));
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
        var chunks = client.blocking().withDeadlineAfter(1, TimeUnit.HOURS).downloadArtifact(DownloadArtifactRequest.newBuilder()
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
            Signatures.verify(client.identity().signingCertificate().getPublicKey(), Statements.artifact(artifactId, last.getTotalSizeBytes(), last.getTotalSha256()),
                    last.getSignature().toByteArray(), "artifact " + artifactId);
        } catch (SignatureRejectedException e) {
            throw new IOException("artifact " + artifactId + " refused: " + e.getMessage(), e);
        }
    }
}
