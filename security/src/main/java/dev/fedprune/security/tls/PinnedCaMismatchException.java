package dev.fedprune.security.tls;

import java.security.cert.CertificateException;

/**
 * The server an agent reached presented a certificate that the pinned CA did not issue. Its own type
 * so that the agent's connection layer can tell this apart from other handshake failures and say so.
 */
public final class PinnedCaMismatchException extends CertificateException {
    public PinnedCaMismatchException(String message) {
        super(message);
    }
}
