package dev.fedprune.agent.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a secret (a proxy password, an enrollment token) kept in a file of its own, so that it never has to be on the command line. */
public final class SecretFile {
    private SecretFile() {
    }

    /**
     * The file's one line, without its line break.
     *
     * @param setting the flag, variable or key that named the file, for messages (which never show the secret)
     * @param what    what the secret is, for messages: "password", "token"
     * @throws InvalidConfigException when the file cannot be read, is empty or holds more than one line
     */
    public static String read(Path file, String setting, String what) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new InvalidConfigException(setting, "cannot read " + file + ": " + ConfigValues.reason(e));
        }
        String secret = text.endsWith("\r\n") ? text.substring(0, text.length() - 2) : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        if (secret.isEmpty()) {
            throw new InvalidConfigException(setting, file + " is empty");
        }
        if (secret.contains("\n")) {
            throw new InvalidConfigException(setting, file + " holds more than one line; put the " + what + " alone on the first");
        }
        return secret;
    }
}
