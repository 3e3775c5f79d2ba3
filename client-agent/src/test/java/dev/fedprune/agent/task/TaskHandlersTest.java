package dev.fedprune.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.eval.LlmEvaluationHandler;
import dev.fedprune.agent.prune.MaskVoteHandler;
import dev.fedprune.agent.prune.SparseLayersHandler;
import dev.fedprune.agent.train.BnCandidateScoresHandler;
import dev.fedprune.agent.train.CnnEvaluationHandler;
import dev.fedprune.agent.train.SparseUpdateHandler;
import dev.fedprune.agent.train.TopKGradientsHandler;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Task handlers are found on the class path and chosen by task kind and spec. */
class TaskHandlersTest {
    static Task prune(TaskKind kind) {
        return Task.newBuilder().setKind(kind).setPrune(PruneTaskSpec.getDefaultInstance()).build();
    }

    static Task training(TaskKind kind) {
        return Task.newBuilder().setKind(kind).setTraining(TrainingTaskSpec.getDefaultInstance()).build();
    }

    static Class<?> handlerOf(TaskHandlers handlers, Task task) {
        return handlers.forTask(task).map(Object::getClass).orElse(null);
    }

    @Test
    void everyTaskKindHasItsHandlerOnTheClassPath() {
        TaskHandlers handlers = TaskHandlers.discovered();
        assertEquals(MaskVoteHandler.class, handlerOf(handlers, prune(TaskKind.TASK_KIND_MASK_VOTE)));
        assertEquals(MaskVoteHandler.class, handlerOf(handlers, prune(TaskKind.TASK_KIND_LAYER_MASK_VOTE)));
        assertEquals(LlmEvaluationHandler.class, handlerOf(handlers, prune(TaskKind.TASK_KIND_EVALUATION)));
        assertEquals(SparseLayersHandler.class, handlerOf(handlers, prune(TaskKind.TASK_KIND_SPARSE_LAYERS)));
        assertEquals(SparseUpdateHandler.class, handlerOf(handlers, training(TaskKind.TASK_KIND_SPARSE_UPDATE)));
        assertEquals(TopKGradientsHandler.class, handlerOf(handlers, training(TaskKind.TASK_KIND_TOP_K_GRADIENTS)));
        assertEquals(BnCandidateScoresHandler.class, handlerOf(handlers, training(TaskKind.TASK_KIND_BN_CANDIDATE_SCORES)));
        assertEquals(CnnEvaluationHandler.class, handlerOf(handlers, training(TaskKind.TASK_KIND_EVALUATION)));
    }

    @Test
    void aKindOrSpecWithoutHandlerFindsNone() {
        TaskHandlers handlers = TaskHandlers.discovered();
        assertEquals(Optional.empty(), handlers.forTask(prune(TaskKind.TASK_KIND_UNSPECIFIED)));
        assertEquals(Optional.empty(), handlers.forTask(training(TaskKind.TASK_KIND_MASK_VOTE)));
        assertEquals(Optional.empty(), handlers.forTask(Task.newBuilder().setKindValue(99).setPrune(PruneTaskSpec.getDefaultInstance()).build()));
        assertEquals(Optional.empty(), handlers.forTask(Task.newBuilder().setKind(TaskKind.TASK_KIND_EVALUATION).build()));
    }

    @Test
    void twoHandlersForOneKindAndSpecAreRefusedWhenTheSetIsMade() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TaskHandlers.of(List.of(new SparseUpdateHandler(), new CnnEvaluationHandler(), new SparseUpdateHandler())));
        assertTrue(e.getMessage().contains("TASK_KIND_SPARSE_UPDATE tasks with a training spec have two handlers"), e.getMessage());
        // The same kind with another spec is another handler's.
        TaskHandlers both = TaskHandlers.of(List.of(new LlmEvaluationHandler(), new CnnEvaluationHandler()));
        assertEquals("TASK_KIND_EVALUATION (prune), TASK_KIND_EVALUATION (training)", both.describe());
    }
}
