package dev.fedprune.agent.task;

import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.proto.v1.ModelManifest;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorEntry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The agent's {@code limits.memory}: the most memory (Java heap and native memory together) a task may
 * need here. An LLM task (masks or evaluation) whose model needs more, by the tensor shapes in the task's
 * manifest, is refused before the model is downloaded. What is counted is a lower bound of the layer
 * streaming runtime's peak (docs/llm-runtime.md): one decoder layer's seven weight matrices in float32 on
 * the engine, one weight matrix in float32 on the heap, and for SparseGPT the {@code d_in x d_in} doubles of
 * its factorization; activations, the embedding rows, the LM head and the JVM itself come on top, so a task
 * that passes may still not fit. Sparse-training tasks (small CNNs) are not checked.
 *
 * @param source the setting it came from, for messages
 */
public record MemoryLimit(long bytes, String source) {
    public MemoryLimit {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a memory limit must be above 0, got " + bytes);
        }
    }

    /**
     * What an operator should know when the agent starts: the JVM's heap may grow above the limit
     * ({@code -Xmx}), or the limit is above what the machine (or container) has.
     *
     * @param maxHeapBytes  {@link Runtime#maxMemory()}
     * @param physicalBytes the machine's (or container's) memory, 0 when unknown
     */
    public List<String> startWarnings(long maxHeapBytes, long physicalBytes) {
        List<String> warnings = new ArrayList<>();
        if (maxHeapBytes != Long.MAX_VALUE && maxHeapBytes > bytes) {
            warnings.add(source + " is " + format(bytes) + ", but the JVM may grow its heap to " + format(maxHeapBytes)
                    + " (-Xmx): start the agent with -Xmx below the limit, or the limit does not bound the process");
        }
        if (physicalBytes > 0 && bytes > physicalBytes) {
            warnings.add(source + " is " + format(bytes) + ", more than the " + format(physicalBytes) + " this machine (or container) has");
        }
        return warnings;
    }

    /**
     * Refuses an LLM task whose model needs more than the limit.
     *
     * @throws TaskTooLargeException naming the limit, its source and what the task needs
     */
    public void check(Task task) {
        if (!task.hasPrune() || task.hasTraining()) {
            return;
        }
        boolean sparseGpt = task.getKind() != TaskKind.TASK_KIND_EVALUATION && task.getPrune().getMethod() == PruneMethod.PRUNE_METHOD_SPARSEGPT;
        Need need = need(task.getModel(), sparseGpt);
        if (need.total() > bytes) {
            throw new TaskTooLargeException("task " + task.getTaskId() + " needs at least " + format(need.total()) + " (" + need.describe()
                    + "), more than " + source + " allows (" + format(bytes) + ")");
        }
    }

    /** The memory a task on this model needs at least, by part (see the class comment). */
    public static Need need(ModelManifest model, boolean sparseGpt) {
        Map<Integer, Long> layerElements = new HashMap<>();
        long largestMatrix = 0;
        long widestInput = 0;
        for (TensorEntry tensor : model.getTensorsList()) {
            OptionalInt layer = PrunableTensors.layerIndex(tensor.getName());
            if (layer.isEmpty()) {
                continue;
            }
            long elements = 1;
            for (long dimension : tensor.getShapeList()) {
                elements = Math.multiplyExact(elements, dimension);
            }
            layerElements.merge(layer.getAsInt(), elements, Long::sum);
            largestMatrix = Math.max(largestMatrix, elements);
            if (tensor.getShapeCount() == 2) {
                widestInput = Math.max(widestInput, tensor.getShape(1));
            }
        }
        long largestLayer = layerElements.values().stream().mapToLong(Long::longValue).max().orElse(0);
        return new Need(largestLayer * Float.BYTES, largestMatrix * Float.BYTES, sparseGpt ? widestInput * widestInput * Double.BYTES : 0);
    }

    /** The parts of a task's memory need; {@code factorizationBytes} is 0 except for SparseGPT. */
    public record Need(long layerOnEngineBytes, long matrixOnHeapBytes, long factorizationBytes) {
        public long total() {
            return layerOnEngineBytes + matrixOnHeapBytes + factorizationBytes;
        }

        String describe() {
            return "one decoder layer in float32 on the engine " + format(layerOnEngineBytes) + ", one weight matrix on the heap "
                    + format(matrixOnHeapBytes) + (factorizationBytes == 0 ? "" : ", SparseGPT's factorization " + format(factorizationBytes));
        }
    }

    /** 8 GiB, 1.5 GiB, 512 MiB, 12 KiB, 900 bytes: binary units, as limits.memory is written. */
    public static String format(long bytes) {
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return (value == Math.rint(value) ? String.format(Locale.ROOT, "%.0f", value) : String.format(Locale.ROOT, "%.1f", value)) + " " + units[unit];
    }
}
