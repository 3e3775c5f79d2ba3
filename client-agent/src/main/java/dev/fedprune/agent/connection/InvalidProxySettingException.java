package dev.fedprune.agent.connection;

/** A proxy setting (flag, environment variable or configuration entry) that cannot be used; the message names the setting. */
public final class InvalidProxySettingException extends IllegalArgumentException {
    public InvalidProxySettingException(String setting, String problem) {
        super(setting + ": " + problem);
    }
}
