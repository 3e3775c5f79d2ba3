package dev.fedprune.coordinator.job;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The fields of one job spec as read from YAML or JSON, with typed readers that refuse a bad value with
 * the field's name and what was expected. The common part of a spec and each method's part read their
 * own fields through it, so every method reports errors the same way.
 */
public final class SpecFields {
    private final Map<String, Object> fields;
    /** Where these fields sit in the spec: "" at the top, {@code "robustAggregation."} inside that block. */
    private final String prefix;

    SpecFields(Map<String, Object> fields) {
        this(fields, "");
    }

    private SpecFields(Map<String, Object> fields, String prefix) {
        this.fields = new LinkedHashMap<>(fields);
        this.prefix = prefix;
    }

    /** A refusal of one of these fields, named by its full path in the spec ({@code robustAggregation.rule}). */
    public InvalidJobSpecException error(String key, String message) {
        return new InvalidJobSpecException(prefix + key, message);
    }

    /**
     * The fields of a nested block such as {@code robustAggregation: {rule: median}}, whose errors name
     * {@code block.field}; a key outside {@code allowed} is refused. Null when the block is absent.
     */
    public SpecFields block(String key, Set<String> allowed) {
        Object v = fields.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map<?, ?> map)) {
            throw error(key, "expected a mapping of " + new java.util.TreeSet<>(allowed) + ", got '" + v + "'");
        }
        Map<String, Object> inner = new LinkedHashMap<>();
        map.forEach((k, x) -> inner.put(String.valueOf(k), x));
        SpecFields block = new SpecFields(inner, prefix + key + ".");
        for (String name : inner.keySet()) {
            if (!allowed.contains(name)) {
                throw block.error(name, "unknown field; expected one of " + new java.util.TreeSet<>(allowed));
            }
        }
        return block;
    }

    public boolean has(String key) {
        return fields.containsKey(key);
    }

    /** The value as written, for error messages. */
    public Object raw(String key) {
        return fields.get(key);
    }

    Set<String> names() {
        return fields.keySet();
    }

    public String string(String key, String fallback) {
        Object v = fields.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Map || v instanceof Iterable) {
            throw error(key, "expected a single value, got " + v);
        }
        return String.valueOf(v);
    }

    public double number(String key, double fallback) {
        Object v = fields.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number num) {
            return num.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw error(key, "expected a number, got '" + v + "'");
        }
    }

    public int integer(String key, int min, int max, int fallback) {
        if (!fields.containsKey(key)) {
            return fallback;
        }
        double v = number(key, fallback);
        if (v != Math.rint(v) || v < min || v > max) {
            throw error(key, "expected a whole number in [" + min + ", " + max + "], got " + fields.get(key));
        }
        return (int) v;
    }

    public boolean bool(String key, boolean fallback) {
        Object v = fields.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        return switch (String.valueOf(v).toLowerCase(Locale.ROOT)) {
            case "true", "on", "yes" -> true;
            case "false", "off", "no" -> false;
            default -> throw error(key, "expected true or false, got '" + v + "'");
        };
    }

    /** An enum constant by its lower-case name ({@code -} for {@code _}). */
    public <E extends Enum<E>> E enumField(String key, Class<E> type, String fallback) {
        String v = string(key, fallback);
        try {
            return Enum.valueOf(type, v.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            StringBuilder allowed = new StringBuilder();
            for (E c : type.getEnumConstants()) {
                allowed.append(allowed.length() == 0 ? "" : ", ").append(c.name().toLowerCase(Locale.ROOT));
            }
            throw error(key, "expected one of " + allowed + ", got '" + v + "'");
        }
    }

    /** A list of whole numbers, as a YAML/JSON list or a comma-separated string. */
    public int[] intList(String key, int min, int max) {
        Object v = fields.get(key);
        List<Object> items = new ArrayList<>();
        if (v instanceof Iterable<?> it) {
            it.forEach(items::add);
        } else if (v != null) {
            for (String part : String.valueOf(v).replace("[", "").replace("]", "").split(",")) {
                if (!part.isBlank()) {
                    items.add(part.trim());
                }
            }
        }
        if (items.isEmpty()) {
            throw error(key, "expected a non-empty list of whole numbers such as [16, 32, 64], got " + v);
        }
        int[] out = new int[items.size()];
        for (int i = 0; i < out.length; i++) {
            Object item = items.get(i);
            double d;
            try {
                d = item instanceof Number n ? n.doubleValue() : Double.parseDouble(String.valueOf(item).trim());
            } catch (NumberFormatException e) {
                throw error(key + "[" + i + "]", "expected a whole number, got '" + item + "'");
            }
            if (d != Math.rint(d) || d < min || d > max) {
                throw error(key + "[" + i + "]", "expected a whole number in [" + min + ", " + max + "], got " + item);
            }
            out[i] = (int) d;
        }
        return out;
    }
}
