package dev.fedprune.agent.iterative;

import java.io.IOException;
import java.nio.file.Path;

/** A kept layer-input file that must not be used: truncated, corrupted, or written for other inputs. */
public final class InvalidLayerInputFileException extends IOException {
    public InvalidLayerInputFileException(Path file, String what) {
        super(file + ": " + what);
    }
}
