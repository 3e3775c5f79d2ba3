package dev.fedprune.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fedprune.proto.v1.ModelManifest;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TensorEntry;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** limits.memory against a task's model: the need is counted from the manifest's shapes, before anything is downloaded. */
class MemoryLimitTest {
    /** Two decoder layers of a model with hidden 8, intermediate 16, 2 kv heads of 2 dims; embeddings and norms are not counted. */
    static final ModelManifest MODEL = manifest();

    private static ModelManifest manifest() {
        ModelManifest.Builder model = ModelManifest.newBuilder().setModelId("m").setArchitecture("LlamaForCausalLM");
        model.addTensors(tensor("model.embed_tokens.weight", 1000, 8));
        for (int layer = 0; layer < 2; layer++) {
            String p = "model.layers." + layer + ".";
            model.addTensors(tensor(p + "self_attn.q_proj.weight", 8, 8));
            model.addTensors(tensor(p + "self_attn.k_proj.weight", 4, 8));
            model.addTensors(tensor(p + "self_attn.v_proj.weight", 4, 8));
            model.addTensors(tensor(p + "self_attn.o_proj.weight", 8, 8));
            model.addTensors(tensor(p + "mlp.gate_proj.weight", 16, 8));
            model.addTensors(tensor(p + "mlp.up_proj.weight", 16, 8));
            model.addTensors(tensor(p + "mlp.down_proj.weight", 8, 16));
            model.addTensors(tensor(p + "input_layernorm.weight", 8));
        }
        return model.build();
    }

    private static TensorEntry tensor(String name, long... shape) {
        TensorEntry.Builder t = TensorEntry.newBuilder().setName(name);
        for (long d : shape) {
            t.addShape(d);
        }
        return t.build();
    }

    private static Task task(TaskKind kind, PruneMethod method) {
        return Task.newBuilder().setTaskId("t-1").setKind(kind).setModel(MODEL).setPrune(PruneTaskSpec.newBuilder().setMethod(method)).build();
    }

    @Test
    void theNeedIsOneLayerOnTheEngineOneMatrixOnTheHeapAndSparseGptsFactorization() {
        long layer = 64 + 32 + 32 + 64 + 128 + 128 + 128;
        assertEquals(new MemoryLimit.Need(layer * 4, 128 * 4, 0), MemoryLimit.need(MODEL, false));
        assertEquals(new MemoryLimit.Need(layer * 4, 128 * 4, 16 * 16 * 8), MemoryLimit.need(MODEL, true), "down_proj has the widest input, 16");
        assertEquals(2304 + 512 + 2048, MemoryLimit.need(MODEL, true).total());
    }

    @Test
    void aTaskThatNeedsMoreIsRefusedNamingTheLimitAndTheNeed() {
        MemoryLimit limit = new MemoryLimit(4000, "agent.yaml: limits.memory");
        limit.check(task(TaskKind.TASK_KIND_MASK_VOTE, PruneMethod.PRUNE_METHOD_WANDA));
        limit.check(task(TaskKind.TASK_KIND_EVALUATION, PruneMethod.PRUNE_METHOD_SPARSEGPT));
        TaskTooLargeException e = assertThrows(TaskTooLargeException.class,
                () -> limit.check(task(TaskKind.TASK_KIND_MASK_VOTE, PruneMethod.PRUNE_METHOD_SPARSEGPT)));
        assertEquals("task t-1 needs at least 4.8 KiB (one decoder layer in float32 on the engine 2.3 KiB, one weight matrix on the heap 512 bytes,"
                + " SparseGPT's factorization 2 KiB), more than agent.yaml: limits.memory allows (3.9 KiB)", e.getMessage());
        // Sparse training tasks are not counted.
        new MemoryLimit(1, "x").check(Task.newBuilder().setTaskId("t-2").setKind(TaskKind.TASK_KIND_SPARSE_UPDATE)
                .setTraining(TrainingTaskSpec.getDefaultInstance()).build());
    }

    @Test
    void startWarningsSayWhatTheLimitCannotBound() {
        MemoryLimit limit = new MemoryLimit(8L << 30, "limits.memory");
        assertEquals(List.of(), limit.startWarnings(4L << 30, 16L << 30));
        assertEquals(List.of("limits.memory is 8 GiB, but the JVM may grow its heap to 12 GiB (-Xmx): start the agent with -Xmx below the limit,"
                + " or the limit does not bound the process", "limits.memory is 8 GiB, more than the 6 GiB this machine (or container) has"),
                limit.startWarnings(12L << 30, 6L << 30));
    }

    @Test
    void sizesAreShownInBinaryUnits() {
        assertEquals("900 bytes", MemoryLimit.format(900));
        assertEquals("8 GiB", MemoryLimit.format(8L << 30));
        assertEquals("1.5 MiB", MemoryLimit.format(3L << 19));
    }
}
