package dev.fedprune.coordinator.security;

/** An enrollment token that is unknown, already used or expired. */
public class TokenRejectedException extends RuntimeException {
    public TokenRejectedException(String message) {
        super(message);
    }
}
