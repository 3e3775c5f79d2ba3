package dev.fedprune.coordinator.error;

/** A chunk stream that breaks the upload protocol: offset, hash, size or digest; names the field. */
public class InvalidUploadException extends RuntimeException {
    public InvalidUploadException(String field, String message) {
        super(field + ": " + message);
    }
}
