package dev.fedprune.coordinator.error;

/** An authenticated agent asking for something that belongs to another agent. */
public class PermissionDeniedException extends RuntimeException {
    public PermissionDeniedException(String message) {
        super(message);
    }
}
