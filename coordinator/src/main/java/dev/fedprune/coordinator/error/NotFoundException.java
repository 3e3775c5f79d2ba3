package dev.fedprune.coordinator.error;

/** An id that names nothing the coordinator knows: job, task, artifact, upload. */
public class NotFoundException extends RuntimeException {
    public NotFoundException(String what, String id) {
        super("unknown " + what + " '" + id + "'");
    }
}
