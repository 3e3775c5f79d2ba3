package dev.fedprune.simulations.scenario;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/** Wraps an agent's pruners so that the agent drops out, straggles, or crashes once. */
final class FailureInjection {
    private FailureInjection() {
    }

    /** Thrown inside a virtual agent to make its task fail the way a dead process would. */
    static final class SimulatedFailure extends RuntimeException {
        SimulatedFailure(String message) {
            super(message);
        }
    }

    static Map<PruneMethod, MaskEngine> wrap(Map<PruneMethod, MaskEngine> engines, VirtualFederation.Failure failure,
                                                  double delaySeconds, Runnable onCrash) {
        AtomicBoolean crashed = new AtomicBoolean();
        AtomicBoolean droppedOut = new AtomicBoolean();
        Map<PruneMethod, MaskEngine> out = new LinkedHashMap<>();
        engines.forEach((method, engine) -> out.put(method, (request, progress) -> {
            switch (failure) {
                case DROPOUT -> {
                    // Never answers: the task stays pulled until the round's deadline.
                    droppedOut.set(true);
                    while (!Thread.currentThread().isInterrupted()) {
                        try {
                            Thread.sleep(Long.MAX_VALUE);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    throw new SimulatedFailure("dropped out");
                }
                case STRAGGLER -> {
                    try {
                        Thread.sleep((long) (delaySeconds * 1000));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return engine.computeMasks(request, progress);
                }
                case CRASH_REJOIN -> {
                    if (crashed.compareAndSet(false, true)) {
                        onCrash.run();
                        throw new SimulatedFailure("crashed");
                    }
                    return engine.computeMasks(request, progress);
                }
                default -> {
                    return engine.computeMasks(request, progress);
                }
            }
        }));
        return out;
    }
}
