package dev.fedprune.agent.task;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The objects an agent's tasks keep from one task to the next (a CNN in memory between rounds of its
 * job), one per type, made by the first task that asks and closed when the agent stops.
 */
public final class AgentScope implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentScope.class);

    private final Map<Class<?>, AutoCloseable> held = new LinkedHashMap<>();

    /** The object of this type the agent holds, made by {@code create} when there is none yet. */
    public synchronized <T extends AutoCloseable> T get(Class<T> type, Supplier<? extends T> create) {
        AutoCloseable existing = held.get(type);
        if (existing == null) {
            existing = create.get();
            held.put(type, existing);
        }
        return type.cast(existing);
    }

    /** Closes what the tasks held, the newest first; a failure to close one is logged and the others still closed. */
    @Override
    public synchronized void close() {
        List<AutoCloseable> all = new ArrayList<>(held.values());
        held.clear();
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (Exception e) {
                log.warn("cannot release {}: {}", all.get(i).getClass().getSimpleName(), e.getMessage(), e);
            }
        }
    }
}
