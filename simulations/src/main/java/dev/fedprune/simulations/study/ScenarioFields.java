package dev.fedprune.simulations.study;

import dev.fedprune.simulations.study.StudyScenario.ScenarioException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Typed access to one mapping of the scenario, with errors that carry file, line and field. */
final class ScenarioFields {
    private final Path file;
    private final Map<String, Integer> lines;
    private final Map<String, Object> values = new LinkedHashMap<>();
    private String prefix = "";

    ScenarioFields(Path file, Map<String, Integer> lines, Map<?, ?> raw) {
        this.file = file;
        this.lines = lines;
        raw.forEach((k, v) -> values.put(String.valueOf(k), v));
    }

    ScenarioFields nested(String name) {
        prefix = name + ".";
        return this;
    }

    ScenarioException error(String field, String message) {
        Integer line = lines.get(field.contains(".") ? field : prefix + field);
        if (line == null && !prefix.isEmpty()) {
            line = lines.get(prefix.substring(0, prefix.length() - 1)); // a missing key: the line of the mapping that lacks it
        }
        return new ScenarioException(file + (line == null ? "" : ":" + line) + ": " + (field.contains(".") ? field : prefix + field) + ": " + message);
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    void checkKeys(String where, Set<String> allowed) {
        for (String key : values.keySet()) {
            if (!allowed.contains(key)) {
                throw error(key, "unknown key; expected one of " + new TreeSet<>(allowed));
            }
        }
    }

    String string(String key, String fallback) {
        Object v = values.get(key);
        return v == null ? fallback : String.valueOf(v);
    }

    double number(String key, double fallback) {
        Object v = values.get(key);
        return v == null ? fallback : doubleValue(key, v);
    }

    double fraction(String key) {
        double v = number(key, 0);
        if (!(v >= 0 && v < 1)) {
            throw error(key, "must be a fraction in [0, 1), got " + v);
        }
        return v;
    }

    double doubleValue(String key, Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v));
        } catch (NumberFormatException e) {
            throw error(key, "expected a number, got '" + v + "'");
        }
    }

    int intValue(String key, Object v, int min, int max) {
        double d = doubleValue(key, v);
        if (d != Math.rint(d) || d < min || d > max) {
            throw error(key, "expected a whole number in [" + min + ", " + max + "], got " + v);
        }
        return (int) d;
    }

    List<Object> list(String key, List<?> fallback) {
        Object v = values.get(key);
        if (v == null) {
            return new ArrayList<>(fallback);
        }
        if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                throw error(key, "must not be empty");
            }
            return new ArrayList<>(l);
        }
        return new ArrayList<>(List.of(v));
    }

    Path existingPath(String key, Path base, boolean directory) {
        Object v = values.get(key);
        if (v == null) {
            throw error(key, "required");
        }
        Path p = base.resolve(String.valueOf(v)).normalize();
        if (directory ? !Files.isDirectory(p) : !Files.isRegularFile(p)) {
            throw error(key, (directory ? "no directory " : "no file ") + p);
        }
        return p;
    }

    <E extends Enum<E>> E enumValue(String key, Class<E> type, String fallback) {
        return parseEnum(key, string(key, fallback), type);
    }

    <E extends Enum<E>> E parseEnum(String key, String v, Class<E> type) {
        try {
            return Enum.valueOf(type, v.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            List<String> allowed = new ArrayList<>();
            for (E c : type.getEnumConstants()) {
                allowed.add(c.name().toLowerCase(Locale.ROOT));
            }
            throw error(key, "expected one of " + allowed + ", got '" + v + "'");
        }
    }
}
