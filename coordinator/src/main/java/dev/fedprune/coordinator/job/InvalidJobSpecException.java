package dev.fedprune.coordinator.job;

/** A job spec that cannot run; the message names the field and what was expected. */
public class InvalidJobSpecException extends RuntimeException {
    private final String field;

    public InvalidJobSpecException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
