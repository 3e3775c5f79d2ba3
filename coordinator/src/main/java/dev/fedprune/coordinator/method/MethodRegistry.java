package dev.fedprune.coordinator.method;

import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.MethodSpec;
import dev.fedprune.coordinator.job.SpecFields;
import dev.fedprune.coordinator.round.JobMethod;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The federated methods on the class path, by name: every {@link MethodProvider} listed in a
 * {@code META-INF/services} file. Also the one place that casts a {@link MethodSpec} to its provider's type.
 */
public final class MethodRegistry {
    private static final Map<String, MethodProvider<?>> PROVIDERS = load();

    private MethodRegistry() {
    }

    private static Map<String, MethodProvider<?>> load() {
        Map<String, MethodProvider<?>> out = new TreeMap<>();
        for (MethodProvider<?> p : ServiceLoader.load(MethodProvider.class, MethodRegistry.class.getClassLoader())) {
            MethodProvider<?> before = out.put(p.name(), p);
            if (before != null) {
                throw new IllegalStateException("two providers of method " + p.name() + ": " + before.getClass().getName()
                        + " and " + p.getClass().getName());
            }
        }
        return out;
    }

    /** Method names, sorted. */
    public static List<String> names() {
        return List.copyOf(PROVIDERS.keySet());
    }

    public static Optional<MethodProvider<?>> byName(String name) {
        return Optional.ofNullable(PROVIDERS.get(name));
    }

    /** The method whose own fields include {@code field}, if any. */
    public static Optional<String> owningMethod(String field) {
        return PROVIDERS.values().stream().filter(p -> p.fields().contains(field)).map(MethodProvider::name).findFirst();
    }

    public static MethodSpec parse(MethodProvider<?> provider, SpecFields fields) {
        return provider.parse(fields);
    }

    public static void write(MethodSpec spec, Map<String, Object> out) {
        writeTyped(of(spec), spec, out);
    }

    public static void checkInputs(JobSpec job) {
        checkTyped(of(job.method()), job);
    }

    public static String describe(JobSpec job) {
        return describeTyped(of(job.method()), job);
    }

    public static JobMethod create(JobSpec job, Path jobDir, ArtifactStore artifacts, CertificateIdentity certificates) throws IOException {
        return createTyped(of(job.method()), job, jobDir, artifacts, certificates);
    }

    private static MethodProvider<?> of(MethodSpec spec) {
        MethodProvider<?> p = PROVIDERS.get(spec.methodName());
        if (p == null) {
            throw new InvalidJobSpecException("method", "no provider of method " + spec.methodName() + " on the class path");
        }
        return p;
    }

    private static <S extends MethodSpec> void writeTyped(MethodProvider<S> p, MethodSpec spec, Map<String, Object> out) {
        p.write(p.specType().cast(spec), out);
    }

    private static <S extends MethodSpec> void checkTyped(MethodProvider<S> p, JobSpec job) {
        p.checkInputs(job, p.specType().cast(job.method()));
    }

    private static <S extends MethodSpec> String describeTyped(MethodProvider<S> p, JobSpec job) {
        return p.describe(job, p.specType().cast(job.method()));
    }

    private static <S extends MethodSpec> JobMethod createTyped(MethodProvider<S> p, JobSpec job, Path jobDir,
                                                                ArtifactStore artifacts, CertificateIdentity certificates) throws IOException {
        return p.create(new MethodContext<>(job, p.specType().cast(job.method()), jobDir, artifacts, certificates));
    }
}
