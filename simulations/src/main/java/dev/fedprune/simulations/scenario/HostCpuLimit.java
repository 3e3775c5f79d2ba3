package dev.fedprune.simulations.scenario;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * Virtual agents share one host: at most one local computation per CPU runs at a time. Without this,
 * a thousand agents would each hold a layer's worth of buffers at once and the JVM would spend its
 * time in garbage collection instead of pruning. Transport, heartbeats and uploads stay concurrent.
 */
public final class HostCpuLimit {
    private HostCpuLimit() {
    }

    public static Map<PruneMethod, MaskEngine> wrap(Map<PruneMethod, MaskEngine> engines, Semaphore cpus) {
        Map<PruneMethod, MaskEngine> out = new LinkedHashMap<>();
        engines.forEach((method, engine) -> out.put(method, (request, progress) -> {
            cpus.acquireUninterruptibly();
            try {
                return engine.computeMasks(request, progress);
            } finally {
                cpus.release();
            }
        }));
        return out;
    }

    public static Semaphore forThisHost() {
        return new Semaphore(Runtime.getRuntime().availableProcessors());
    }
}
