package dev.fedprune.agent.cli;

import dev.fedprune.agent.config.AgentConfig;
import dev.fedprune.agent.config.ConfigKey;
import dev.fedprune.agent.connection.ProxySettings;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The proxy flags of the commands that talk to a coordinator. A flag wins over
 * {@code FEDPRUNE_AGENT_PROXY_*}, which wins over {@code proxy:} in agent.yaml, which wins over
 * {@code https_proxy}/{@code HTTPS_PROXY} and {@code no_proxy}/{@code NO_PROXY} (see {@link AgentConfig}).
 * The password can stay off the command line: a password file, or {@value ProxySettings#PASSWORD_VARIABLE}.
 */
public final class ProxyOptions {
    @Option(names = "--proxy", paramLabel = "URL",
            description = "HTTP CONNECT proxy for every coordinator call: http://[user[:password]@]host:port (default: FEDPRUNE_AGENT_PROXY_URL,"
                    + " proxy.url in agent.yaml, https_proxy, HTTPS_PROXY). Keep the password off the command line: --proxy-password-file or "
                    + ProxySettings.PASSWORD_VARIABLE + ".")
    String proxy;

    @Option(names = "--no-proxy", paramLabel = "LIST",
            description = "Coordinator addresses reached directly although a proxy is set, comma-separated: host (and the names under it), .domain,"
                    + " *, host:port, IP address, CIDR range (default: FEDPRUNE_AGENT_PROXY_NO_PROXY, proxy.noProxy, no_proxy, NO_PROXY).")
    String noProxy;

    @Option(names = "--proxy-password-file", paramLabel = "FILE",
            description = "File holding the password (one line) of the proxy user named in the proxy URL (default: " + ProxySettings.PASSWORD_VARIABLE
                    + ", FEDPRUNE_AGENT_PROXY_PASSWORD_FILE, proxy.passwordFile).")
    String passwordFile;

    /** Adds these flags to a command's {@code flags}. */
    AgentConfig.Flags addTo(AgentConfig.Flags flags) {
        return flags.with(ConfigKey.PROXY_URL, proxy).with(ConfigKey.PROXY_NO_PROXY, noProxy).with(ConfigKey.PROXY_PASSWORD_FILE, passwordFile);
    }

    /**
     * The proxy these flags and {@code environment} give, without an agent.yaml; null for direct connections.
     *
     * @throws IllegalArgumentException (an {@link dev.fedprune.agent.config.InvalidConfigException} or
     *                                  {@link dev.fedprune.agent.connection.InvalidProxySettingException}) naming the setting that is wrong
     */
    public ProxySettings resolve(Map<String, String> environment) {
        return AgentConfig.proxyFromFlags(addTo(new AgentConfig.Flags(null)), environment);
    }
}
