package dev.fedprune.coordinator.error;

/** A contribution or request for a round or job that no longer accepts it. */
public class RoundClosedException extends RuntimeException {
    public RoundClosedException(String message) {
        super(message);
    }
}
