package dev.fedprune.security;

/** A well-formed certificate that is not acceptable: another CA, expired, wrong purpose, revoked. */
public class CertificateRejectedException extends RuntimeException {
    public CertificateRejectedException(String message) {
        super(message);
    }
}
