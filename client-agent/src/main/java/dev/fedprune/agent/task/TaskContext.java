package dev.fedprune.agent.task;

import ai.djl.Device;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.iterative.JobStates;
import dev.fedprune.agent.iterative.JobStatesDirectory;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What a {@link TaskHandler} may use while it computes one task: the agent's data, model cache,
 * pruners, evaluator and device, artifact downloads from the coordinator, progress logging, the
 * coordinator's cancellation, the objects kept between tasks, and the metrics reported with the result.
 * One context per task; the download counters and the metrics are this task's.
 */
public final class TaskContext {

    /**
     * What stays the same from one task to the next on this agent.
     *
     * @param pruners     the local pruners of mask-vote tasks, by method
     * @param evaluator   measures language models on local data
     * @param device      where tasks that build their own model compute (the CPU, or a CUDA device)
     * @param memoryLimit LLM tasks whose model needs more are refused before the download; null: no limit
     * @param scope       the objects tasks keep between them
     * @param jobStates   the files one job keeps between its rounds on this agent (calibration states of iterative jobs)
     */
    public record Agent(String name, CoordinatorClient client, ModelCache models, LocalData data, Map<PruneMethod, MaskEngine> pruners,
                        QualityEvaluator evaluator, Device device, MemoryLimit memoryLimit, AgentScope scope,
                        JobStatesDirectory jobStates) {
        public Agent {
            pruners = Map.copyOf(pruners);
        }
    }

    private final Agent agent;
    private final Task task;
    private final BooleanSupplier cancelled;
    private final long modelBytesBefore;
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private long artifactBytes;

    /** @param cancelled whether the coordinator has called the task off */
    public TaskContext(Agent agent, Task task, BooleanSupplier cancelled) {
        this.agent = agent;
        this.task = task;
        this.cancelled = cancelled;
        this.modelBytesBefore = agent.models().bytesDownloaded();
    }

    public String agentName() {
        return agent.name();
    }

    /** This agent's enrolled identity: its id, key and certificate, and the CA it pinned (secure aggregation signs and verifies with them). */
    public AgentIdentity identity() {
        return agent.client().identity();
    }

    public LocalData data() {
        return agent.data();
    }

    /** Where tasks that build their own model compute. */
    public Device device() {
        return agent.device();
    }

    public QualityEvaluator evaluator() {
        return agent.evaluator();
    }

    /** The agent's pruner for a method, if it has one. */
    public Optional<MaskEngine> pruner(PruneMethod method) {
        return Optional.ofNullable(agent.pruners().get(method));
    }

    /**
     * Refuses the task before any download when the agent's memory limit cannot hold its model.
     *
     * @throws TaskTooLargeException naming the limit and what the task needs
     */
    public void checkMemory() {
        if (agent.memoryLimit() != null) {
            agent.memoryLimit().check(task);
        }
    }

    /** The directory of the task's model: the agent's own copy when it matches, else downloaded (once) from the coordinator. */
    public Path model() throws IOException {
        return agent.models().ensure(task.getModel());
    }

    /** Bytes of model files downloaded for this task. */
    public long modelBytesDownloaded() {
        return agent.models().bytesDownloaded() - modelBytesBefore;
    }

    /** Downloads an artifact ({@code sha256:<hex>}) from the coordinator, hash-checked, and returns its bytes. */
    public byte[] artifact(String artifactId) throws IOException {
        if (artifactId.isEmpty() || !artifactId.startsWith("sha256:")) {
            throw new IllegalArgumentException("artifact id '" + artifactId + "' is not a sha256: id");
        }
        Path directory = Files.createDirectories(agent.models().directory().resolve("artifacts"));
        Path file = Files.createTempFile(directory, "artifact", ".bin");
        try {
            Files.delete(file);
            artifactBytes += agent.client().download(artifactId, artifactId.substring("sha256:".length()), file);
            return Files.readAllBytes(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Bytes of artifacts downloaded for this task. */
    public long artifactBytesDownloaded() {
        return artifactBytes;
    }

    /** Progress of long work, logged at most every few seconds with the agent's name and the task's id. */
    public ProgressListener progress() {
        return LoggedProgress.steps(agent.name() + ": task " + task.getTaskId() + " ");
    }

    /** Whether the coordinator has called this task off: stop, nothing of it will be uploaded. */
    public boolean cancelled() {
        return cancelled.getAsBoolean();
    }

    /** @throws TaskCancelledException when the coordinator has called this task off */
    public void stopIfCancelled() {
        if (cancelled()) {
            throw new TaskCancelledException(task.getTaskId());
        }
    }

    /**
     * Where the task's job keeps files between its rounds on this agent (dropping those of every other job);
     * null when that directory cannot be made, and nothing is kept this round.
     */
    public JobStates jobStates() {
        return agent.jobStates().retainOnly(task.getJobId(), task.getModel().getModelId());
    }

    /** The object of this type the agent keeps between tasks, made by {@code create} on first use. */
    public <T extends AutoCloseable> T held(Class<T> type, Supplier<? extends T> create) {
        return agent.scope().get(type, create);
    }

    /** A metric reported to the coordinator with this task's contribution. */
    public void metric(String name, double value) {
        metrics.put(name, value);
    }

    /** The metrics recorded so far, in the order they were recorded. */
    public Map<String, Double> metrics() {
        return Collections.unmodifiableMap(metrics);
    }
}
