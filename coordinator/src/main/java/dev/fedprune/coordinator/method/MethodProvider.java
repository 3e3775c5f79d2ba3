package dev.fedprune.coordinator.method;

import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.MethodSpec;
import dev.fedprune.coordinator.job.SpecFields;
import dev.fedprune.coordinator.round.JobMethod;
import java.io.IOException;
import java.util.Map;
import java.util.Set;

/**
 * One federated method as the coordinator knows it: its part of the job spec, what it checks when a job is
 * submitted, and how it creates the {@link JobMethod} that runs the job's rounds. Providers are found with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/dev.fedprune.coordinator.method.MethodProvider}),
 * so a new method is registered without editing the engine, the parser or any registry class.
 *
 * @param <S> the method's part of the spec
 */
public interface MethodProvider<S extends MethodSpec> {

    /** The method's name in the spec's {@code method:} field. */
    String name();

    /** The record of its part of the spec. */
    Class<S> specType();

    /** Its spec fields, beside the common ones ({@link JobSpec}). */
    Set<String> fields();

    /** Reads and checks its fields, refusing a bad one with {@link dev.fedprune.coordinator.job.InvalidJobSpecException}. */
    S parse(SpecFields fields);

    /** Writes its fields in canonical form, as {@link #parse} reads them: stored with the job and re-read at restart. */
    void write(S spec, Map<String, Object> out);

    /** Checks the job's inputs when it is submitted (a model directory, a density the model can hold...). */
    default void checkInputs(JobSpec job, S spec) {
    }

    /** What the job's "created" event says after {@code created <name>: }. */
    String describe(JobSpec job, S spec);

    /** Creates the method of a job that is starting or resuming (files, manifests, initial model). */
    JobMethod create(MethodContext<S> context) throws IOException;
}
