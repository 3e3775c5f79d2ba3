package dev.fedprune.coordinator.error;

/** Credentials missing, unknown or wrong. */
public class UnauthenticatedException extends RuntimeException {
    public UnauthenticatedException(String message) {
        super(message);
    }
}
