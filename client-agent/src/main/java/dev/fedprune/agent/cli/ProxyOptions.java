package dev.fedprune.agent.cli;

import dev.fedprune.agent.connection.InvalidProxySettingException;
import dev.fedprune.agent.connection.NoProxy;
import dev.fedprune.agent.connection.ProxySettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The proxy flags of the commands that talk to a coordinator, and how they combine with the usual
 * environment variables: a flag wins over the environment, {@code https_proxy} over {@code HTTPS_PROXY},
 * {@code no_proxy} over {@code NO_PROXY}. The password can stay off the command line: a password file,
 * or {@value ProxySettings#PASSWORD_VARIABLE}.
 */
public final class ProxyOptions {
    private static final Logger log = LoggerFactory.getLogger(ProxyOptions.class);

    @Option(names = "--proxy", paramLabel = "URL",
            description = "HTTP CONNECT proxy for every coordinator call: http://[user[:password]@]host:port (default: https_proxy, HTTPS_PROXY)."
                    + " Keep the password off the command line: --proxy-password-file or " + ProxySettings.PASSWORD_VARIABLE + ".")
    String proxy;

    @Option(names = "--no-proxy", paramLabel = "LIST",
            description = "Coordinator addresses reached directly although a proxy is set, comma-separated: host (and the names under it), .domain,"
                    + " *, host:port, IP address, CIDR range (default: no_proxy, NO_PROXY).")
    String noProxy;

    @Option(names = "--proxy-password-file", paramLabel = "FILE",
            description = "File holding the password (one line) of the proxy user named in the proxy URL (default: " + ProxySettings.PASSWORD_VARIABLE + ").")
    Path passwordFile;

    /**
     * The proxy to use, or null for direct connections; logs one line saying which way calls to
     * {@code coordinator} go (never the password).
     *
     * @throws InvalidProxySettingException naming the flag, variable or file that is wrong
     */
    public ProxySettings resolve(Map<String, String> environment, String coordinator) {
        ProxySettings settings = resolve(environment);
        if (settings == null) {
            return null;
        }
        if (!settings.appliesTo(coordinator)) {
            log.info("coordinator {} matches no_proxy ({}): connecting directly, not through {}", coordinator, settings.noProxy(), settings.address());
        } else {
            log.info("coordinator calls go through the HTTP proxy {}", settings);
        }
        return settings;
    }

    /** The proxy to use, or null for direct connections. */
    public ProxySettings resolve(Map<String, String> environment) {
        String urlSource = proxy != null ? "--proxy" : firstSet(environment, "https_proxy", "HTTPS_PROXY");
        String noProxySource = noProxy != null ? "--no-proxy" : firstSet(environment, "no_proxy", "NO_PROXY");
        NoProxy exceptions = noProxySource == null ? NoProxy.NONE
                : NoProxy.parse(noProxy != null ? noProxy : environment.get(noProxySource), noProxySource);
        if (urlSource == null) {
            if (passwordFile != null) {
                throw new InvalidProxySettingException("--proxy-password-file", "no proxy is set (--proxy, https_proxy or HTTPS_PROXY)");
            }
            return null;
        }
        ProxySettings settings = ProxySettings.parse(proxy != null ? proxy : environment.get(urlSource), urlSource).withNoProxy(exceptions);
        if (passwordFile != null) {
            settings = settings.withPassword(readPassword(passwordFile), "--proxy-password-file");
        } else if (environment.get(ProxySettings.PASSWORD_VARIABLE) != null) {
            settings = settings.withPassword(environment.get(ProxySettings.PASSWORD_VARIABLE), ProxySettings.PASSWORD_VARIABLE);
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

    private static String readPassword(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new InvalidProxySettingException("--proxy-password-file", "cannot read " + file + ": " + e.getMessage());
        }
        String password = text.endsWith("\r\n") ? text.substring(0, text.length() - 2) : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        if (password.isEmpty()) {
            throw new InvalidProxySettingException("--proxy-password-file", file + " is empty");
        }
        if (password.contains("\n")) {
            throw new InvalidProxySettingException("--proxy-password-file", file + " holds more than one line; put the password alone on the first");
        }
        return password;
    }
}
