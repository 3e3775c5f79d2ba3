package dev.fedprune.agent.model;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.task.LoggedProgress;
import dev.fedprune.aggregation.format.ModelManifests;
import dev.fedprune.proto.v1.ModelFile;
import dev.fedprune.proto.v1.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the model a task names: the agent's own model directory when its tensors hash to the job's
 * manifest, otherwise a copy downloaded from the coordinator into the work directory (chunked,
 * hash-checked, resumable, kept for later tasks).
 */
public final class ModelCache {
    private static final Logger log = LoggerFactory.getLogger(ModelCache.class);
    private static final String COMPLETE_MARKER = ".complete";

    private final CoordinatorClient client;
    private final Path cacheRoot;
    private final Path localModel;
    private final Map<Path, String> localIds = new ConcurrentHashMap<>();
    private long bytesDownloaded;

    public ModelCache(CoordinatorClient client, Path workDir, Path localModel) {
        this.client = client;
        this.cacheRoot = workDir.resolve("models");
        this.localModel = localModel;
    }

    /** The agent's working directory this cache lives in. */
    public Path directory() {
        return cacheRoot.getParent();
    }

    /** Bytes of model files received so far. */
    public long bytesDownloaded() {
        return bytesDownloaded;
    }

    public Path ensure(ModelManifest manifest) throws IOException {
        if (localModel != null) {
            String localId = localIds.computeIfAbsent(localModel, dir -> {
                try {
                    return ModelManifests.describe(dir).modelId();
                } catch (IOException | RuntimeException e) {
                    log.warn("local model {} is unusable ({}); the job's model will be downloaded", dir, e.getMessage());
                    return "";
                }
            });
            if (localId.equals(manifest.getModelId())) {
                return localModel;
            }
            log.info("local model {} does not match the job's model {}; downloading it", localModel, manifest.getModelId().substring(0, 12));
        }
        Path dir = cacheRoot.resolve(manifest.getModelId());
        Path marker = dir.resolve(COMPLETE_MARKER);
        if (Files.isRegularFile(marker)) {
            return dir;
        }
        Files.createDirectories(dir);
        for (ModelFile file : manifest.getFilesList()) {
            Path target = dir.resolve(file.getPath()).normalize();
            if (!target.startsWith(dir) || file.getPath().contains("/")) {
                throw new IOException("model file path '" + file.getPath() + "' must be a plain file name");
            }
            log.info("downloading {} ({} bytes)", file.getPath(), file.getSizeBytes());
            bytesDownloaded += client.download(file.getArtifactId(), file.getSha256(), target, LoggedProgress.transfer(file.getPath() + " "));
        }
        String id = ModelManifests.describe(dir).modelId();
        if (!id.equals(manifest.getModelId())) {
            throw new IOException("downloaded model hashes to " + id + ", the job's manifest says " + manifest.getModelId());
        }
        Files.writeString(marker, id);
        return dir;
    }
}
