package dev.fedprune.agent.iterative;

import dev.fedprune.aggregation.format.Digests;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent work directory's {@code calibration-states/}: one sub-directory per iterative job whose
 * calibration states this agent keeps between rounds, and never more than one job at a time. The agent
 * learns that a job has ended only from what it is handed next (the coordinator sends no "job ended"
 * message: a pull answers a task or a retry delay and the count of unfinished jobs, a heartbeat the tasks
 * called off), so the agent loop drops the states when it starts, when it gets a task of another job, and
 * when the coordinator has no unfinished job; the round of a model's last layer drops
 * its job's states itself ({@link LayerInputCache}). Failures here are logged, never thrown: keeping is an
 * optimisation.
 */
public final class JobStatesDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(JobStatesDirectory.class);
    private static final Pattern PLAIN_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    private final Path root;

    public JobStatesDirectory(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /**
     * Drops the states of every other job and returns where this job's are kept, or null (nothing is kept
     * this round) when its directory cannot be made.
     */
    public JobStates retainOnly(String jobId, String modelId) {
        Path directory = root.resolve(directoryName(jobId));
        dropAllExcept(directory, "their job has ended here");
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            LOG.warn("cannot make {} (calibration states are not kept between rounds this time): {}", directory, e.getMessage());
            return null;
        }
        return new JobStates(directory, jobId, modelId);
    }

    /** Drops the states of every job but {@code jobId}'s; {@code why} completes the log line as in {@link #clear}. */
    public void dropAllBut(String jobId, String why) {
        dropAllExcept(root.resolve(directoryName(jobId)), why);
    }

    /** Drops the states of every job; {@code why} completes the log line "dropping the calibration states kept in DIR: ...". */
    public void clear(String why) {
        dropAllExcept(null, why);
    }

    private void dropAllExcept(Path keep, String why) {
        if (!Files.isDirectory(root)) {
            return;
        }
        List<Path> jobs;
        try (Stream<Path> list = Files.list(root)) {
            jobs = list.filter(p -> !p.equals(keep)).toList();
        } catch (IOException e) {
            LOG.warn("cannot list {}: {}", root, e.getMessage());
            return;
        }
        for (Path job : jobs) {
            LOG.info("dropping the calibration states kept in {}: {}", job, why);
            deleteTree(job);
        }
    }

    /** The job id itself when it is a plain file name, otherwise its digest. */
    static String directoryName(String jobId) {
        return PLAIN_NAME.matcher(jobId).matches() ? jobId : "job-" + Digests.sha256Hex(jobId.getBytes(StandardCharsets.UTF_8)).substring(0, 32);
    }

    private static void deleteTree(Path top) {
        try (Stream<Path> walk = Files.walk(top)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", top, e.getMessage());
        }
    }
}
