package dev.fedprune.security;

/** A signature that does not verify over the statement it claims to sign. */
public class SignatureRejectedException extends RuntimeException {
    public SignatureRejectedException(String message) {
        super(message);
    }
}
