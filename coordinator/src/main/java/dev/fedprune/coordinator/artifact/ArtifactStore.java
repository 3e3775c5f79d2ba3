package dev.fedprune.coordinator.artifact;

import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.coordinator.error.NotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Files the coordinator serves or keeps, addressed by content: id {@code sha256:<hex>}. Stored blobs
 * (contributions, round masks) live under {@code root/sha256/}; large existing files (the job's
 * model) are registered in place instead of copied.
 */
public final class ArtifactStore {
    /** A stored or registered file. */
    public record Artifact(String id, Path path, long sizeBytes, String sha256) {
    }

    private final Path blobs;
    private final Path staging;
    private final Map<String, Artifact> registered = new ConcurrentHashMap<>();

    public ArtifactStore(Path root) {
        this.blobs = root.resolve("sha256");
        this.staging = root.resolve("staging");
        try {
            Files.createDirectories(blobs);
            Files.createDirectories(staging);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create artifact store under " + root, e);
        }
    }

    public static String idOf(String sha256) {
        return "sha256:" + sha256;
    }

    /** Serves an existing file under its digest without copying it. */
    public Artifact register(Path file, String sha256) throws IOException {
        Artifact a = new Artifact(idOf(sha256), file.toAbsolutePath(), Files.size(file), sha256);
        registered.put(a.id(), a);
        return a;
    }

    public Artifact put(byte[] data) throws IOException {
        String sha = Digests.sha256Hex(data);
        Path target = blobs.resolve(sha);
        if (!Files.exists(target)) {
            Path tmp = Files.createTempFile(staging, sha, ".tmp");
            // On the disk, not only in the page cache, before the database may say the bytes are stored.
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(data);
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                out.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return new Artifact(idOf(sha), target, data.length, sha);
    }

    /**
     * Moves a finished file whose digest is known into the store, forced to the disk first (as
     * {@link #put} does) so that a commit naming it never outlives its bytes.
     */
    public Artifact adopt(Path file, String sha256) throws IOException {
        Path target = blobs.resolve(sha256);
        if (Files.exists(target)) {
            Files.deleteIfExists(file);
        } else {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(file, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return new Artifact(idOf(sha256), target, Files.size(target), sha256);
    }

    public Optional<Artifact> find(String id) {
        Artifact a = registered.get(id);
        if (a != null) {
            return Optional.of(a);
        }
        if (id.startsWith("sha256:") && id.length() == 7 + 64 && id.substring(7).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            Path p = blobs.resolve(id.substring(7));
            if (Files.isRegularFile(p)) {
                try {
                    return Optional.of(new Artifact(id, p, Files.size(p), id.substring(7)));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return Optional.empty();
    }

    public Artifact get(String id) {
        return find(id).orElseThrow(() -> new NotFoundException("artifact", id));
    }

    /**
     * The artifact's bytes, verified against its content address on every read: a disk that flipped a
     * bit, or a file edited behind the coordinator's back, is refused, never used.
     *
     * @throws CorruptArtifactException if the bytes do not hash to the artifact's SHA-256
     */
    public byte[] read(String id) throws IOException {
        Artifact a = get(id);
        byte[] data = Files.readAllBytes(a.path());
        String actual = Digests.sha256Hex(data);
        if (!actual.equals(a.sha256())) {
            throw new CorruptArtifactException(id, actual);
        }
        return data;
    }

    /**
     * The artifact's file, verified against its content address by streaming it once: for artifacts
     * too large to read into memory (contributions of large models). The caller reads the file itself.
     *
     * @throws CorruptArtifactException if the bytes do not hash to the artifact's SHA-256
     */
    public Path verifiedPath(String id) throws IOException {
        Artifact a = get(id);
        String actual = Digests.sha256Hex(a.path());
        if (!actual.equals(a.sha256())) {
            throw new CorruptArtifactException(id, actual);
        }
        return a.path();
    }

    /** Deletes a stored blob (one found corrupt), so that an upload of the right bytes can take its place. */
    public void discard(String id) throws IOException {
        if (registered.containsKey(id)) {
            return; // a registered file is the job's own input, not a stored blob
        }
        Optional<Artifact> blob = find(id);
        if (blob.isPresent()) {
            Files.deleteIfExists(blob.get().path());
        }
    }

    /** Where partial uploads are written until they are complete. */
    public Path stagingDir() {
        return staging;
    }
}
