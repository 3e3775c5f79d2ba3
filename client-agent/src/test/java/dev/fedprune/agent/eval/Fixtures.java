package dev.fedprune.agent.eval;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared fixture model; tests that need it are skipped, loudly, when it is absent. */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path fortunesLm() {
        String dir = System.getProperty("fedprune.fixtures");
        Path model = dir == null ? null : Path.of(dir, "fortunes-lm");
        boolean present = model != null && Files.isRegularFile(model.resolve("model.safetensors"));
        if (!present) {
            System.err.println("SKIPPED: fixture model not found (system property fedprune.fixtures=" + dir + ")");
        }
        assumeTrue(present, "fixture model fortunes-lm not found under fedprune.fixtures=" + dir);
        return model;
    }
}
