package dev.fedprune.agent.config;

/**
 * A setting's value and where it came from, so that whatever is wrong with it later (a data file that
 * is gone, a workdir without an enrollment) can name the flag, variable or file key to fix.
 *
 * @param source {@code --data}, {@code FEDPRUNE_AGENT_DATA_TOKENS}, {@code /etc/fedprune-agent/agent.yaml: data.tokens},
 *               or {@code default}
 */
public record Sourced<T>(T value, Layer layer, String source) {
    /** Where settings come from, strongest first. */
    public enum Layer { FLAG, ENVIRONMENT, FILE, DEFAULT }

    public Sourced {
        if (value == null || layer == null || source == null) {
            throw new IllegalArgumentException("value, layer and source are required");
        }
    }

    static <T> Sourced<T> byDefault(T value) {
        return new Sourced<>(value, Layer.DEFAULT, "default");
    }
}
