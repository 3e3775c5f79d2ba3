package dev.fedprune.coordinator.artifact;

import java.io.IOException;

/** A stored artifact whose bytes no longer hash to its content address: it must not be used. */
public final class CorruptArtifactException extends IOException {
    private final String id;

    public CorruptArtifactException(String id, String actualSha256) {
        super("artifact " + id + " is corrupt: its bytes hash to sha256:" + actualSha256);
        this.id = id;
    }

    public String id() {
        return id;
    }
}
