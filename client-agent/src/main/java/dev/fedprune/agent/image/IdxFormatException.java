package dev.fedprune.agent.image;

import java.io.IOException;
import java.nio.file.Path;

/** An IDX file that cannot be used: the message names the file and the field (magic, a dimension, data, label). */
public final class IdxFormatException extends IOException {
    private final transient Path file;
    private final String field;

    public IdxFormatException(Path file, String field, String message) {
        super(file + ": " + field + ": " + message);
        this.file = file;
        this.field = field;
    }

    public IdxFormatException(Path file, String field, String message, Throwable cause) {
        super(file + ": " + field + ": " + message, cause);
        this.file = file;
        this.field = field;
    }

    public Path file() {
        return file;
    }

    public String field() {
        return field;
    }
}
