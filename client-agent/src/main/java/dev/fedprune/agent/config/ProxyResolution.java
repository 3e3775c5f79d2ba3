package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.NoProxy;
import dev.fedprune.agent.connection.ProxySettings;
import java.nio.file.Path;
import java.util.Map;

/**
 * The proxy of an {@link AgentConfig}: the three layers of its keys plus a fourth, weakest one (the
 * conventional {@code https_proxy} and {@code no_proxy} variables), and where its password may come from.
 */
final class ProxyResolution {
    private ProxyResolution() {
    }

    /**
     * The proxy, each of its parts from the strongest layer that gives it: URL from --proxy,
     * FEDPRUNE_AGENT_PROXY_URL, proxy.url, https_proxy, HTTPS_PROXY; exceptions likewise down to
     * no_proxy, NO_PROXY; the password from --proxy-password-file, then FEDPRUNE_PROXY_PASSWORD or
     * FEDPRUNE_AGENT_PROXY_PASSWORD_FILE (not both), then proxy.passwordFile.
     */
    static ProxySettings resolve(ConfigLayers layers, Map<String, String> environment) {
        Sourced<ProxySettings> url = layers.get(ConfigKey.PROXY_URL);
        ProxySettings settings = url != null ? url.value() : null;
        if (settings == null) {
            String variable = firstSet(environment, "https_proxy", "HTTPS_PROXY");
            settings = variable == null ? null : ProxySettings.parse(environment.get(variable), variable);
        }
        Sourced<Path> flagFile = ConfigLayers.cast(layers.flags().get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<Path> environmentFile = ConfigLayers.cast(layers.environment().get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<Path> fileFile = ConfigLayers.cast(layers.file().get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<NoProxy> noProxyKey = layers.get(ConfigKey.PROXY_NO_PROXY);
        String noProxyVariable = noProxyKey != null ? null : firstSet(environment, "no_proxy", "NO_PROXY");
        NoProxy noProxy = noProxyKey != null ? noProxyKey.value()
                : noProxyVariable == null ? NoProxy.NONE : NoProxy.parse(environment.get(noProxyVariable), noProxyVariable);
        if (settings == null) {
            Sourced<Path> orphan = flagFile != null ? flagFile : environmentFile != null ? environmentFile : fileFile;
            if (orphan != null) {
                throw new InvalidConfigException(orphan.source(), "no proxy is set (--proxy, " + ConfigKey.PROXY_URL.variable()
                        + ", proxy.url in agent.yaml, https_proxy or HTTPS_PROXY)");
            }
            return null;
        }
        settings = settings.withNoProxy(noProxy);
        String passwordVariable = environment.get(ProxySettings.PASSWORD_VARIABLE);
        if (flagFile != null) {
            settings = settings.withPassword(SecretFile.read(flagFile.value(), flagFile.source(), "password"), flagFile.source());
        } else if (passwordVariable != null && environmentFile != null) {
            throw new InvalidConfigException(environmentFile.source(), "and " + ProxySettings.PASSWORD_VARIABLE
                    + " both give the proxy password; set one of them");
        } else if (passwordVariable != null) {
            settings = settings.withPassword(passwordVariable, ProxySettings.PASSWORD_VARIABLE);
        } else if (environmentFile != null) {
            settings = settings.withPassword(SecretFile.read(environmentFile.value(), environmentFile.source(), "password"), environmentFile.source());
        } else if (fileFile != null) {
            settings = settings.withPassword(SecretFile.read(fileFile.value(), fileFile.source(), "password"), fileFile.source());
        }
        if (url != null && url.layer() == Sourced.Layer.FILE && settings.username() != null && settings.password() == null) {
            // ProxySettings would also suggest the URL, where agent.yaml takes no password.
            throw new InvalidConfigException(url.source(), "names proxy user '" + settings.username() + "' but no password; name a file holding it"
                    + " with proxy.passwordFile, or set " + ProxySettings.PASSWORD_VARIABLE);
        }
        return settings.requireCompleteCredentials();
    }

    private static String firstSet(Map<String, String> environment, String... names) {
        for (String name : names) {
            String value = environment.get(name);
            if (value != null && !value.isBlank()) {
                return name;
            }
        }
        return null;
    }
}
