package dev.fedprune.agent.task;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.Task;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way a handler's contribution leaves the agent: written to a file in {@code <workdir>/uploads}
 * (a large one is never copied into one array) with its SHA-256 computed as it is written, uploaded from
 * that file (signed by the client) under an id derived from the task and the payload, so that a retry of
 * the same bytes resumes the same upload, then deleted; then the handler's metrics, with the upload's,
 * are reported.
 */
final class ContributionSender {
    private static final Logger log = LoggerFactory.getLogger(ContributionSender.class);
    private static final String PREFIX = "contribution-";

    private final String agentName;
    private final CoordinatorClient client;
    private final Path directory;
    private final Predicate<String> cancelled;

    /**
     * @param cancelled whether the coordinator has called a task off (by task id): then nothing of it is uploaded
     */
    ContributionSender(String agentName, CoordinatorClient client, Path directory, Predicate<String> cancelled) {
        this.agentName = agentName;
        this.client = client;
        this.directory = directory;
        this.cancelled = cancelled;
    }

    /** Uploads one task's contribution and reports its metrics; throws {@link TaskCancelledException} when called off first. */
    void send(Task task, Contribution contribution, Map<String, Double> handlerMetrics) throws IOException {
        Files.createDirectories(directory);
        Path file = Files.createTempFile(directory, PREFIX, ".pb");
        try {
            MessageDigest sha = Digests.sha256();
            try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 20), sha)) {
                contribution.toBuilder().setTaskId(task.getTaskId()).build().writeTo(out);
            }
            String digest = Digests.hex(sha.digest());
            long bytes = Files.size(file);
            long started = System.nanoTime();
            if (cancelled.test(task.getTaskId())) {
                throw new TaskCancelledException(task.getTaskId());
            }
            client.upload(task, task.getTaskId() + "-" + digest.substring(0, 16), file, digest);
            Map<String, Double> metrics = new LinkedHashMap<>(handlerMetrics);
            metrics.put("upload_seconds", (System.nanoTime() - started) / 1e9);
            metrics.put("bytes_up", (double) bytes);
            Double computeSeconds = metrics.get("compute_seconds");
            log.info("{}: task {} folded ({} bytes up{})", agentName, task.getTaskId(), bytes,
                    computeSeconds == null ? "" : String.format(Locale.ROOT, ", %.0f ms compute", computeSeconds * 1000));
            client.reportMetrics(task, metrics);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Contribution files an earlier run left when it was killed mid-upload: their task is handed out again, and computed anew. */
    void dropUnsent() {
        if (!Files.isDirectory(directory)) {
            return;
        }
        try (var files = Files.list(directory)) {
            for (Path file : files.filter(f -> f.getFileName().toString().startsWith(PREFIX)).toList()) {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            log.warn("{}: cannot clear {}: {}", agentName, directory, e.getMessage());
        }
    }
}
