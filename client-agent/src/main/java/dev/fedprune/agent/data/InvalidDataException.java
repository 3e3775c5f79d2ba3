package dev.fedprune.agent.data;

/** Calibration or evaluation data that cannot be used: the message names the file, line and field. */
public final class InvalidDataException extends IllegalArgumentException {
    public InvalidDataException(String message) {
        super(message);
    }

    public InvalidDataException(String message, Throwable cause) {
        super(message, cause);
    }
}
