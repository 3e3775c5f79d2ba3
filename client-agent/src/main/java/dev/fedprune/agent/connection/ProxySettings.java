package dev.fedprune.agent.connection;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * An HTTP CONNECT proxy the agent reaches its coordinator through: where it is, the Basic credentials
 * it wants (if any), and the {@link NoProxy} exceptions that connect directly. {@code source} names the
 * setting the proxy came from ({@code --proxy}, {@code https_proxy}, a configuration key), so that
 * every refusal and every connection error can point at it. The password never appears in
 * {@link #toString()} nor in any message built here.
 *
 * @param username for Basic proxy authentication, or null
 * @param password with {@code username}; null while not yet known (see {@link #withPassword})
 */
public record ProxySettings(String source, String host, int port, String username, String password, NoProxy noProxy) {
    /** Environment variable an agent may take the proxy password from, instead of the command line. */
    public static final String PASSWORD_VARIABLE = "FEDPRUNE_PROXY_PASSWORD";
    static final String EXPECTED = "expected http://[user[:password]@]host:port";

    public ProxySettings {
        if (source == null || host == null || noProxy == null) {
            throw new IllegalArgumentException("source, host and noProxy are required");
        }
        if (port < 1 || port > 65535) {
            throw new InvalidProxySettingException(source, "port " + port + " is not between 1 and 65535");
        }
        if (password != null && username == null) {
            throw new InvalidProxySettingException(source, "a proxy password needs a proxy user (http://user@host:port)");
        }
    }

    /**
     * Parses {@code http://[user[:password]@]host:port}, as in {@code https_proxy}: the scheme may be left
     * out (http is assumed), one trailing slash is allowed; user and password are percent-decoded
     * ({@code %40} for {@code @}). IPv6 hosts go in brackets.
     *
     * @param source the setting the value came from, for messages
     * @throws InvalidProxySettingException naming {@code source}, with the value (password masked)
     */
    public static ProxySettings parse(String url, String source) {
        if (url == null || url.isBlank()) {
            throw new InvalidProxySettingException(source, EXPECTED + ", got an empty value");
        }
        String value = url.strip();
        String rest = value;
        int schemeEnd = value.indexOf("://");
        if (schemeEnd >= 0) {
            String scheme = value.substring(0, schemeEnd).toLowerCase(Locale.ROOT);
            rest = value.substring(schemeEnd + 3);
            switch (scheme) {
                case "http" -> { }
                case "https" -> throw refused(source, value, "TLS to the proxy itself (https://) is not supported; the agent's traffic"
                        + " is already TLS inside the tunnel, so give the proxy as http://");
                case "socks", "socks4", "socks4a", "socks5", "socks5h" -> throw refused(source, value, "SOCKS proxies are not supported,"
                        + " only HTTP CONNECT proxies");
                default -> throw refused(source, value, "unknown scheme '" + scheme + "'");
            }
        }
        if (rest.endsWith("/")) {
            rest = rest.substring(0, rest.length() - 1);
        }
        int at = rest.lastIndexOf('@');
        String userInfo = at >= 0 ? rest.substring(0, at) : null;
        String hostPort = rest.substring(at + 1);
        if (hostPort.contains("/") || hostPort.contains("?") || hostPort.contains("#")) {
            throw refused(source, value, "a proxy URL has no path, query or fragment");
        }
        String host;
        String portText;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0 || !hostPort.startsWith(":", close + 1)) {
                throw refused(source, value, "an IPv6 proxy address is written [address]:port");
            }
            host = hostPort.substring(1, close);
            if (!NoProxy.isIpv6Literal(host)) {
                throw refused(source, value, "'" + host + "' is not an IPv6 address");
            }
            portText = hostPort.substring(close + 2);
        } else {
            int colon = hostPort.lastIndexOf(':');
            if (colon < 0) {
                throw refused(source, value, "no port (the proxy's port is required, e.g. :3128)");
            }
            host = hostPort.substring(0, colon);
            portText = hostPort.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                throw refused(source, value, "an IPv6 proxy address is written [address]:port");
            }
            if (!NoProxy.isHostName(host)) {
                throw refused(source, value, "'" + host + "' is not a host name or IPv4 address");
            }
        }
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw refused(source, value, "port '" + portText + "' is not a number");
        }
        if (port < 1 || port > 65535) {
            throw refused(source, value, "port " + port + " is not between 1 and 65535");
        }
        String username = null;
        String password = null;
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            username = percentDecode(colon < 0 ? userInfo : userInfo.substring(0, colon), source, value);
            password = colon < 0 ? null : percentDecode(userInfo.substring(colon + 1), source, value);
            if (username.isEmpty()) {
                throw refused(source, value, "the user name before '@' is empty");
            }
            if (username.contains(":")) {
                throw refused(source, value, "a user name cannot contain ':' in Basic proxy authentication");
            }
        }
        return new ProxySettings(source, host.toLowerCase(Locale.ROOT), port, username, password, NoProxy.NONE);
    }

    /** The same proxy with these exceptions (from {@code --no-proxy} or {@code no_proxy}). */
    public ProxySettings withNoProxy(NoProxy exceptions) {
        return new ProxySettings(source, host, port, username, password, exceptions);
    }

    /**
     * The same proxy with the password from another setting than the URL (a password file, an environment
     * variable); refused when the URL names no user or already carries a password.
     */
    public ProxySettings withPassword(String secret, String passwordSource) {
        if (username == null) {
            throw new InvalidProxySettingException(passwordSource, "gives a proxy password, but the proxy URL (" + source
                    + ") names no user; write it as http://USER@" + address());
        }
        if (password != null) {
            throw new InvalidProxySettingException(passwordSource, "gives a proxy password, but the proxy URL (" + source
                    + ") carries one already; give it one way only");
        }
        return new ProxySettings(source, host, port, username, secret, noProxy);
    }

    /** Refuses a user without a password: Basic authentication needs both. */
    public ProxySettings requireCompleteCredentials() {
        if (username != null && password == null) {
            throw new InvalidProxySettingException(source, "names proxy user '" + username + "' but no password; give it in "
                    + PASSWORD_VARIABLE + ", with --proxy-password-file, or in the URL");
        }
        return this;
    }

    /** Whether calls to {@code targetHost:targetPort} go through this proxy (no {@code no_proxy} entry matches). */
    public boolean appliesTo(String targetHost, int targetPort) {
        return !noProxy.matches(targetHost, targetPort);
    }

    /** Whether calls to the gRPC target {@code coordinator} ({@code host:port}) go through this proxy. */
    public boolean appliesTo(String coordinator) {
        ProxyRoute.Target target = ProxyRoute.Target.of(coordinator);
        return appliesTo(target.host(), target.port());
    }

    /** host:port, IPv6 in brackets. */
    public String address() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        String user = username == null ? "" : username + (password == null ? "" : ":***") + "@";
        return "http://" + user + address() + " (" + source + ")" + (noProxy.isEmpty() ? "" : ", no_proxy " + noProxy);
    }

    private static InvalidProxySettingException refused(String source, String value, String why) {
        return new InvalidProxySettingException(source, EXPECTED + ", got '" + masked(value) + "': " + why);
    }

    /** The value with anything after the user name in the user info replaced by ***. */
    static String masked(String value) {
        int schemeEnd = value.indexOf("://");
        int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        int at = value.lastIndexOf('@');
        if (at < start) {
            return value;
        }
        int colon = value.indexOf(':', start);
        return colon < 0 || colon > at ? value : value.substring(0, colon + 1) + "***" + value.substring(at);
    }

    private static String percentDecode(String text, String source, String value) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int i = 0;
        while (i < text.length()) {
            if (text.charAt(i) == '%') {
                int hi = i + 2 < text.length() ? Character.digit(text.charAt(i + 1), 16) : -1;
                int lo = i + 2 < text.length() ? Character.digit(text.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw refused(source, value, "a '%' in the user info must be followed by two hex digits");
                }
                bytes.write(hi * 16 + lo);
                i += 3;
            } else {
                int codePoint = text.codePointAt(i);
                bytes.writeBytes(new String(Character.toChars(codePoint)).getBytes(StandardCharsets.UTF_8));
                i += Character.charCount(codePoint);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
