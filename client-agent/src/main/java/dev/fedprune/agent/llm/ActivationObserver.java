package dev.fedprune.agent.llm;

import ai.djl.ndarray.NDArray;

/**
 * Sees the inputs of a decoder layer's linear maps during a calibration pass, one sequence at a time:
 * {@code input} is {@code [tokens, d_in]} and lives only for the call (copy what you keep).
 */
@FunctionalInterface
public interface ActivationObserver {
    ActivationObserver NONE = (site, input) -> { };

    void observe(Projection.InputSite site, NDArray input);
}
