package dev.fedprune.agent.connection;

import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLException;

/**
 * gRPC channels to a coordinator: server TLS pinned to the coordinator's CA (for enrollment), or
 * mutual TLS with the agent's certificate (everything else). The JDK TLS provider is used so that
 * the pinned trust manager alone decides about the server (see {@link PinnedCaTrustManager}).
 * Channels go through an HTTP CONNECT proxy when one is given and its {@code no_proxy} list does not
 * exempt the coordinator (see {@link ProxyRoute}); TLS runs end to end inside the tunnel.
 */
public final class TlsChannels {
    static final int MAX_INBOUND_BYTES = 8 << 20;

    private TlsChannels() {
    }

    public static ManagedChannel serverTls(String target, PinnedCaTrustManager trust) {
        return build(target, trust, null, null, null);
    }

    /** @param proxy the proxy to go through, or null for a direct connection */
    public static ManagedChannel serverTls(String target, PinnedCaTrustManager trust, ProxySettings proxy) {
        return build(target, trust, null, null, proxy);
    }

    public static ManagedChannel mutualTls(String target, PinnedCaTrustManager trust, PrivateKey key, X509Certificate certificate) {
        return build(target, trust, key, certificate, null);
    }

    /** @param proxy the proxy to go through, or null for a direct connection */
    public static ManagedChannel mutualTls(String target, PinnedCaTrustManager trust, PrivateKey key, X509Certificate certificate,
                                           ProxySettings proxy) {
        return build(target, trust, key, certificate, proxy);
    }

    private static ManagedChannel build(String target, PinnedCaTrustManager trust, PrivateKey key, X509Certificate certificate,
                                        ProxySettings proxy) {
        ProxyRoute route = new ProxyRoute(proxy);
        ProxyRoute.Target coordinator = ProxyRoute.Target.of(target);
        try {
            SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK).trustManager(trust);
            if (key != null) {
                b.keyManager(key, certificate);
            }
            SslContext ssl = b.build();
            return NettyChannelBuilder.forTarget(target).sslContext(ssl).maxInboundMessageSize(MAX_INBOUND_BYTES)
                    .proxyDetector(route)
                    .intercept(new TransportFailures(proxy, coordinator, route.proxies(coordinator)))
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS to " + target + ": " + e.getMessage(), e);
        }
    }
}
