package dev.fedprune.security.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The coordinator's TLS-level trust in clients: any client certificate completes the handshake (the
 * TLS handshake still proves the client holds its private key) and the application verifies it on
 * every call, against the CA and the revocation list. Deferring the check is what lets a refused
 * agent get a precise gRPC status ("expired at ...", "revoked") and leave an audit entry instead of
 * an anonymous handshake failure; and enrollment must work without any client certificate.
 */
public final class DeferredClientTrustManager extends X509ExtendedTrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
        // verified per call by the coordinator's identity interceptor
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        // verified per call by the coordinator's identity interceptor
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        // verified per call by the coordinator's identity interceptor
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("the coordinator does not connect to servers");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    /** Empty: clients must not filter their certificate by issuer, or a wrong one would silently not be sent. */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
