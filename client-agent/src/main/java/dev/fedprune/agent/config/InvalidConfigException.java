package dev.fedprune.agent.config;

/**
 * A setting of the agent (flag, environment variable, or key of {@code agent.yaml}) that cannot be used;
 * the message starts with the setting, e.g. {@code /etc/fedprune-agent/agent.yaml: limits.threads: expected
 * an integer >= 1, got "four"}.
 */
public final class InvalidConfigException extends IllegalArgumentException {
    public InvalidConfigException(String setting, String problem) {
        super(setting + ": " + problem);
    }
}
