package dev.fedprune.coordinator.round;

/**
 * A method's part of a job's final report ({@code report.json}): a record whose components are written
 * as fields of the report, beside the job's id, name, spec, model id, rounds and wall time.
 */
public interface MethodReport {

    /** Fraction of the prunable weights pruned in the final model, for the job's "completed" event. */
    double overallSparsity();
}
