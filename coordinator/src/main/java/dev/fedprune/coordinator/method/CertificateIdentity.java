package dev.fedprune.coordinator.method;

import java.security.cert.X509Certificate;

/**
 * Whom a certificate an agent presents inside a contribution identifies, by the coordinator's own PKI
 * (issued by its CA, valid now, recorded as issued, not revoked): what a method checks before it passes
 * an agent's certificate on to other agents (secure aggregation's key advertisements).
 */
@FunctionalInterface
public interface CertificateIdentity {
    /** An engine without a PKI (tests of other parts): every certificate is refused. */
    CertificateIdentity NONE = certificate -> {
        throw new IllegalStateException("this coordinator has no CA to check certificates against");
    };

    /** The agent id the certificate identifies; throws, saying why, when the coordinator does not accept it. */
    String agentOf(X509Certificate certificate);
}
