package dev.fedprune.aggregation.format;

/** Input that does not follow a FedPrune or safetensors format; the message names the source and field. */
public class FormatException extends RuntimeException {
    public FormatException(String message) {
        super(message);
    }

    public FormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
