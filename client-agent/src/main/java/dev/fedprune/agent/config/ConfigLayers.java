package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.ProxySettings;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The three layers of an {@link AgentConfig}'s values, strongest first: flags, {@code FEDPRUNE_AGENT_*}
 * environment variables, agent.yaml; and the parsing of the environment layer.
 */
record ConfigLayers(Map<ConfigKey<?>, Sourced<?>> flags, Map<ConfigKey<?>, Sourced<?>> environment, Map<ConfigKey<?>, Sourced<?>> file) {
    /** The value of the strongest layer that gives {@code key}, or null. */
    <T> Sourced<T> get(ConfigKey<T> key) {
        for (Map<ConfigKey<?>, Sourced<?>> layer : List.of(flags, environment, file)) {
            Sourced<?> value = layer.get(key);
            if (value != null) {
                return cast(value);
            }
        }
        return null;
    }

    <T> Sourced<T> getOr(ConfigKey<T> key, T fallback) {
        Sourced<T> value = get(key);
        return value != null ? value : Sourced.byDefault(fallback);
    }

    @SuppressWarnings("unchecked")
    static <T> Sourced<T> cast(Sourced<?> value) {
        return (Sourced<T>) value;
    }

    /**
     * The {@code FEDPRUNE_AGENT_*} variables, each parsed; an empty one counts as not set. A variable with
     * the prefix that names no key is refused, so that a typo is not silently ignored.
     */
    static Map<ConfigKey<?>, Sourced<?>> fromEnvironment(Map<String, String> environment) {
        Map<ConfigKey<?>, Sourced<?>> values = new LinkedHashMap<>();
        List<String> known = new ArrayList<>();
        ConfigKey.ALL.forEach(k -> known.add(k.variable()));
        known.add(AgentConfig.CONFIG_VARIABLE);
        for (Map.Entry<String, String> entry : new TreeMap<>(environment).entrySet()) {
            String name = entry.getKey();
            if (!name.startsWith(ConfigKey.VARIABLE_PREFIX) || name.equals(AgentConfig.CONFIG_VARIABLE) || AgentConfig.LAUNCHER_VARIABLES.contains(name)) {
                continue;
            }
            ConfigKey<?> key = ConfigKey.ALL.stream().filter(k -> k.variable().equals(name)).findFirst().orElseThrow(() -> unknownVariable(name, known));
            String text = entry.getValue();
            if (text == null || text.isEmpty()) {
                continue;
            }
            values.put(key, new Sourced<>(key.parse(new ConfigValues.Raw(text, true), name), Sourced.Layer.ENVIRONMENT, name));
        }
        return values;
    }

    private static InvalidConfigException unknownVariable(String name, List<String> known) {
        if (name.equals("FEDPRUNE_AGENT_ENROLLMENT_TOKEN")) {
            return new InvalidConfigException(name, "unknown variable; the token itself goes in " + AgentConfig.TOKEN_VARIABLE + ", a file holding it in "
                    + ConfigKey.ENROLLMENT_TOKEN_FILE.variable());
        }
        if (name.equals("FEDPRUNE_AGENT_PROXY_PASSWORD")) {
            return new InvalidConfigException(name, "unknown variable; the password itself goes in " + ProxySettings.PASSWORD_VARIABLE
                    + ", a file holding it in " + ConfigKey.PROXY_PASSWORD_FILE.variable());
        }
        String nearest = AgentConfigFile.Suggestions.nearest(name, known);
        return new InvalidConfigException(name, "unknown variable; " + (nearest == null ? "" : "did you mean " + nearest + "? ")
                + "Expected one of " + String.join(", ", known) + " (" + String.join(" and ", AgentConfig.LAUNCHER_VARIABLES.stream().sorted().toList())
                + " are left to launcher scripts)");
    }
}
