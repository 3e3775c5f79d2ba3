package dev.fedprune.coordinator.method;

import dev.fedprune.coordinator.job.MethodSpec;
import dev.fedprune.coordinator.job.SpecFields;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * A {@link MethodProvider} whose spec part is one record with a {@code NAME}, its {@code FIELDS}, a static
 * {@code parse(SpecFields)} and a {@code write(Map)}: the five methods every provider would otherwise repeat.
 * A provider extends it with a public no-argument constructor (for {@link java.util.ServiceLoader}) and
 * adds what is its own: {@link #describe}, {@link #create} and, if needed, {@link #checkInputs}.
 *
 * @param <S> the method's part of the spec
 */
public abstract class SpecProvider<S extends MethodSpec> implements MethodProvider<S> {
    private final String name;
    private final Class<S> specType;
    private final Set<String> fields;
    private final Function<SpecFields, S> parser;
    private final BiConsumer<S, Map<String, Object>> writer;

    protected SpecProvider(String name, Class<S> specType, Set<String> fields, Function<SpecFields, S> parser,
                           BiConsumer<S, Map<String, Object>> writer) {
        this.name = name;
        this.specType = specType;
        this.fields = Set.copyOf(fields);
        this.parser = parser;
        this.writer = writer;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Class<S> specType() {
        return specType;
    }

    @Override
    public final Set<String> fields() {
        return fields;
    }

    @Override
    public final S parse(SpecFields fields) {
        return parser.apply(fields);
    }

    @Override
    public final void write(S spec, Map<String, Object> out) {
        writer.accept(spec, out);
    }
}
