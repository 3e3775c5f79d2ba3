package dev.fedprune.coordinator.method;

import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.MethodSpec;
import java.nio.file.Path;

/**
 * What a method is created from: the job's spec, its own part of it, the job's directory (created before),
 * the coordinator's artifact store, and its PKI's view of agent certificates.
 */
public record MethodContext<S extends MethodSpec>(JobSpec job, S spec, Path jobDir, ArtifactStore artifacts,
                                                  CertificateIdentity certificates) {
}
