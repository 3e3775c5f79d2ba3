package dev.fedprune.agent.task;

import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * The task handlers of this agent, by task kind and spec: the ones on the class path
 * ({@link #discovered()}), or a chosen set. Two handlers for the same kind and spec are refused when the
 * set is made, not when a task arrives.
 */
public final class TaskHandlers {
    private record Key(TaskKind kind, Task.SpecCase spec) {
    }

    private final Map<Key, TaskHandler> byKey;

    private TaskHandlers(Map<Key, TaskHandler> byKey) {
        this.byKey = byKey;
    }

    /** Every handler named in a {@code META-INF/services/dev.fedprune.agent.task.TaskHandler} file on the class path. */
    public static TaskHandlers discovered() {
        List<TaskHandler> found = new ArrayList<>();
        ServiceLoader.load(TaskHandler.class, TaskHandler.class.getClassLoader()).forEach(found::add);
        return of(found);
    }

    /** @throws IllegalStateException when two handlers claim the same kind and spec */
    public static TaskHandlers of(Collection<? extends TaskHandler> handlers) {
        Map<Key, TaskHandler> byKey = new LinkedHashMap<>();
        for (TaskHandler handler : handlers) {
            for (TaskKind kind : handler.kinds()) {
                TaskHandler other = byKey.putIfAbsent(new Key(kind, handler.spec()), handler);
                if (other != null) {
                    throw new IllegalStateException(kind + " tasks with a " + specName(handler.spec()) + " spec have two handlers: "
                            + other.getClass().getName() + " and " + handler.getClass().getName());
                }
            }
        }
        return new TaskHandlers(byKey);
    }

    /** The handler of this task's kind and spec, if this agent has one. */
    public Optional<TaskHandler> forTask(Task task) {
        return Optional.ofNullable(byKey.get(new Key(task.getKind(), task.getSpecCase())));
    }

    /** What this agent handles, for messages: {@code TASK_KIND_MASK_VOTE (prune), ...}. */
    public String describe() {
        return byKey.keySet().stream().map(k -> k.kind() + " (" + specName(k.spec()) + ")").collect(Collectors.joining(", "));
    }

    static String specName(Task.SpecCase spec) {
        return spec == Task.SpecCase.SPEC_NOT_SET ? "no" : spec.name().toLowerCase(Locale.ROOT);
    }
}
