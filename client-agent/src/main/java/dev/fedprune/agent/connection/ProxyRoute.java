package dev.fedprune.agent.connection;

import io.grpc.HttpConnectProxiedSocketAddress;
import io.grpc.ProxiedSocketAddress;
import io.grpc.ProxyDetector;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;

/**
 * How a channel reaches the coordinator: through the configured HTTP CONNECT proxy, or directly when
 * none is set or a {@code no_proxy} entry matches. Set on every channel, so that without a proxy the
 * agent connects directly whatever the JVM's proxy properties say. The coordinator's name travels
 * unresolved in the CONNECT request: the proxy resolves it, the agent never has to.
 */
final class ProxyRoute implements ProxyDetector {
    private final ProxySettings proxy;

    /** @param proxy null for direct connections */
    ProxyRoute(ProxySettings proxy) {
        if (proxy != null) {
            proxy.requireCompleteCredentials();
        }
        this.proxy = proxy;
    }

    /** Whether calls to {@code target} ({@code host:port}) go through the proxy. */
    boolean proxies(Target target) {
        return proxy != null && proxy.appliesTo(target.host(), target.port());
    }

    @Override
    public ProxiedSocketAddress proxyFor(SocketAddress targetServerAddress) throws IOException {
        if (!(targetServerAddress instanceof InetSocketAddress target) || proxy == null || !proxy.appliesTo(target.getHostString(), target.getPort())) {
            return null;
        }
        InetSocketAddress proxyAddress = new InetSocketAddress(proxy.host(), proxy.port());
        if (proxyAddress.isUnresolved()) {
            throw new ProxyUnresolvedException(proxy);
        }
        HttpConnectProxiedSocketAddress.Builder route = HttpConnectProxiedSocketAddress.newBuilder()
                .setProxyAddress(proxyAddress)
                .setTargetAddress(InetSocketAddress.createUnresolved(target.getHostString(), target.getPort()));
        if (proxy.username() != null) {
            route.setUsername(proxy.username()).setPassword(proxy.password());
        }
        return route.build();
    }

    /** The proxy's host name does not resolve here. */
    static final class ProxyUnresolvedException extends UnknownHostException {
        ProxyUnresolvedException(ProxySettings proxy) {
            super("the HTTP proxy host '" + proxy.host() + "' (" + proxy.source() + ") does not resolve");
        }
    }

    /** A channel target split into host and port, the way the name resolver sees it. */
    record Target(String host, int port) {
        static Target of(String target) {
            String authority = target.replaceFirst("^[a-zA-Z][a-zA-Z0-9+.-]*:///", "");
            int close = authority.lastIndexOf(']');
            int colon = authority.lastIndexOf(':');
            if (colon > close && colon > 0) {
                try {
                    return new Target(strip(authority.substring(0, colon)), Integer.parseInt(authority.substring(colon + 1)));
                } catch (NumberFormatException e) {
                    // no port: the resolver's default port applies
                }
            }
            return new Target(strip(authority), 443);
        }

        private static String strip(String host) {
            return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }
}
