package dev.fedprune.agent.llm;

/** A model directory that this runtime cannot load: the message names the file and the field or tensor. */
public final class InvalidModelException extends IllegalArgumentException {
    public InvalidModelException(String message) {
        super(message);
    }

    public InvalidModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
