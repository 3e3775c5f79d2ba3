package dev.fedprune.coordinator.job;

/**
 * The method-specific part of a job spec: what follows {@code method:} in the spec. Each federated method
 * has one record here, read and written by its {@link dev.fedprune.coordinator.method.MethodProvider}.
 * (Sealed records of an unnamed module must share the sealed interface's package.)
 */
public sealed interface MethodSpec permits FedPrLlmSpec, FedSpaLlmSpec, SparseTrainingSpec {

    /** The method's name in the spec's {@code method:} field. */
    String methodName();
}
