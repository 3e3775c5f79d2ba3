package dev.fedprune.agent.config;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Locale;

/** How settings' values are shown in messages, and sizes in bytes. */
final class ConfigValues {
    private ConfigValues() {
    }

    /**
     * A value as it was written: its text, and whether a message quotes it (strings from the command line,
     * the environment or a quoted YAML scalar) or shows it as it is (YAML numbers and booleans).
     */
    record Raw(String text, boolean quoted) {
        String shown() {
            return quoted ? quote(text) : text;
        }
    }

    /** {@code "text"} with quotes, backslashes and control characters escaped, so that a message shows exactly what was given. */
    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.codePoints().forEach(c -> {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                case '\r' -> out.append("\\r");
                default -> {
                    if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", c));
                    } else {
                        out.appendCodePoint(c);
                    }
                }
            }
        });
        return out.append('"').toString();
    }

    /** Why a file could not be read, in words. */
    static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.charset.CharacterCodingException) {
            return "not UTF-8 text";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /**
     * Parses {@code 8g}, {@code 512m}, {@code 1024k} or a plain number of bytes; the suffixes are binary
     * (k = 1024) and case-insensitive, as in {@code -Xmx}.
     *
     * @throws IllegalArgumentException when the text is not such a size, or not above 0
     */
    static long parseBytes(String text) {
        String value = text.strip();
        if (!value.matches("[0-9]+[kKmMgGtT]?")) {
            throw new IllegalArgumentException();
        }
        char last = Character.toLowerCase(value.charAt(value.length() - 1));
        int shift = switch (last) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? value : value.substring(0, value.length() - 1);
        long number;
        try {
            number = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("too large");
        }
        if (number == 0) {
            throw new IllegalArgumentException("must be above 0");
        }
        if (number > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("too large");
        }
        return number << shift;
    }
}
