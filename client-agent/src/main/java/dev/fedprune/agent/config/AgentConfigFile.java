package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.ProxySettings;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads {@code agent.yaml} strictly: every key must be one of {@link ConfigKey#ALL} (an unknown one is
 * refused with the nearest known key), every value must parse, a key may not appear twice, and the file
 * holds one YAML document. The whole file is checked when it is read, whichever command reads it and
 * whatever flags or variables override. Secrets are not taken from it, only the names of the files that
 * hold them. An empty value ({@code model:}) means the key is not set.
 */
final class AgentConfigFile {
    private static final YAMLMapper YAML = YAMLMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Keys people write by analogy that would put a secret in the file, and where the secret goes instead. */
    private static final Map<String, String> SECRET_KEYS = Map.of(
            "enrollment.token", "the token never goes in agent.yaml: name a file holding it with enrollment.tokenFile, or set FEDPRUNE_ENROLLMENT_TOKEN",
            "proxy.password", "the password never goes in agent.yaml: name a file holding it with proxy.passwordFile, or set "
                    + ProxySettings.PASSWORD_VARIABLE);

    private AgentConfigFile() {
    }

    /**
     * The settings in {@code file}, each with the source {@code FILE: key}.
     *
     * @param setting how the file was named ({@code --config}, {@code FEDPRUNE_AGENT_CONFIG}), for a file that cannot be read
     * @throws InvalidConfigException naming the file, and the key when one is wrong
     */
    static Map<ConfigKey<?>, Sourced<?>> read(Path file, String setting) {
        if (Files.isDirectory(file)) {
            throw new InvalidConfigException(setting, file + ": is a directory, expected an agent.yaml file");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new InvalidConfigException(file.toString(), "not UTF-8 text");
        } catch (IOException e) {
            throw new InvalidConfigException(setting, file + ": cannot read: " + ConfigValues.reason(e));
        }
        return parse(text, file.toString());
    }

    /** The settings in {@code text}, a file's contents; {@code fileName} starts every message and source. */
    static Map<ConfigKey<?>, Sourced<?>> parse(String text, String fileName) {
        JsonNode root;
        try {
            root = YAML.readTree(text);
        } catch (JacksonException e) {
            throw new InvalidConfigException(fileName, syntaxError(e));
        }
        Map<ConfigKey<?>, Sourced<?>> values = new LinkedHashMap<>();
        if (root == null || root.isMissingNode() || root.isNull()) {
            return values;
        }
        if (!root.isObject()) {
            throw new InvalidConfigException(fileName, "expected a mapping of keys (" + String.join(", ", topLevelNames())
                    + "), got " + shown(root));
        }
        for (Map.Entry<String, JsonNode> entry : root.properties()) {
            String name = entry.getKey();
            JsonNode node = entry.getValue();
            Optional<ConfigKey<?>> key = key(name);
            if (key.isPresent()) {
                put(values, key.get(), node, fileName);
            } else if (sections().contains(name)) {
                if (node.isNull()) {
                    continue;
                }
                List<ConfigKey<?>> inSection = keysOf(name);
                if (!node.isObject()) {
                    throw new InvalidConfigException(fileName + ": " + name, "expected a mapping of "
                            + String.join(", ", inSection.stream().map(ConfigKey::name).toList()) + ", got " + shown(node));
                }
                for (Map.Entry<String, JsonNode> inner : node.properties()) {
                    String path = name + "." + inner.getKey();
                    ConfigKey<?> innerKey = key(path).orElseThrow(() -> unknown(fileName, path));
                    put(values, innerKey, inner.getValue(), fileName);
                }
            } else {
                throw unknown(fileName, name);
            }
        }
        return values;
    }

    private static void put(Map<ConfigKey<?>, Sourced<?>> values, ConfigKey<?> key, JsonNode node, String fileName) {
        if (node.isNull()) {
            return;
        }
        String setting = fileName + ": " + key.path();
        if (!node.isValueNode()) {
            throw new InvalidConfigException(setting, "expected " + key.expected() + ", got " + shown(node));
        }
        Object value = key.parse(new ConfigValues.Raw(node.asString(), node.isString()), setting);
        if (value instanceof ProxySettings proxy && proxy.password() != null) {
            throw new InvalidConfigException(setting, "expected http://[user@]host:port without a password, got \"http://" + proxy.username()
                    + ":***@" + proxy.address() + "\"; agent.yaml is no place for secrets: name a file holding the password with"
                    + " proxy.passwordFile, or set " + ProxySettings.PASSWORD_VARIABLE);
        }
        values.put(key, new Sourced<>(value, Sourced.Layer.FILE, setting));
    }

    private static InvalidConfigException unknown(String fileName, String path) {
        String secret = SECRET_KEYS.get(path);
        if (secret != null) {
            return new InvalidConfigException(fileName + ": " + path, "unknown key; " + secret);
        }
        int dot = path.indexOf('.');
        List<String> expected = dot < 0 ? topLevelNames()
                : sections().contains(path.substring(0, dot)) ? keysOf(path.substring(0, dot)).stream().map(ConfigKey::path).toList()
                : topLevelNames();
        String nearest = Suggestions.nearest(path, aliases());
        return new InvalidConfigException(fileName + ": " + path, "unknown key; "
                + (nearest == null ? "" : "did you mean " + nearest + "? ")
                + "Expected one of " + String.join(", ", expected));
    }

    /** How a message shows a node that is not what was expected. */
    private static String shown(JsonNode node) {
        if (node.isObject()) {
            return "a mapping";
        }
        if (node.isArray()) {
            return "a list";
        }
        return node.isString() ? ConfigValues.quote(node.asString()) : node.asString();
    }

    /** Jackson's message without snakeyaml's echo of the source, and with the line and column. */
    private static String syntaxError(JacksonException e) {
        String message = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        List<String> kept = new ArrayList<>();
        for (String line : message.split("\n")) {
            // snakeyaml adds " in reader, line L, column C:", the source line and a caret under it.
            if (!line.isBlank() && !line.startsWith(" ")) {
                kept.add(line.strip());
            }
        }
        String what = String.join("; ", kept);
        if (what.startsWith("Duplicate Object property ")) {
            what = "key " + what.substring("Duplicate Object property ".length()) + " appears twice";
        } else if (what.startsWith("Trailing token")) {
            what = "more than one YAML document (---); agent.yaml holds one";
        }
        TokenStreamLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        return "not valid YAML" + where + ": " + what;
    }

    private static Optional<ConfigKey<?>> key(String path) {
        return ConfigKey.ALL.stream().filter(k -> k.path().equals(path)).findFirst();
    }

    private static Set<String> sections() {
        Set<String> sections = new LinkedHashSet<>();
        ConfigKey.ALL.forEach(k -> k.section().ifPresent(sections::add));
        return sections;
    }

    private static List<ConfigKey<?>> keysOf(String section) {
        return ConfigKey.ALL.stream().filter(k -> k.section().filter(section::equals).isPresent()).toList();
    }

    /** The top-level keys and sections, in the README's order. */
    private static List<String> topLevelNames() {
        Set<String> names = new LinkedHashSet<>();
        ConfigKey.ALL.forEach(k -> names.add(k.section().orElse(k.path())));
        return List.copyOf(names);
    }

    /**
     * What people may write for each key, to the key: its path, its name without the section
     * ({@code threads}), and its flag in camel case with and without the section ({@code evalData},
     * {@code data.evalData}); and each section's name.
     */
    private static Map<String, String> aliases() {
        Map<String, String> aliases = new LinkedHashMap<>();
        topLevelNames().forEach(name -> aliases.put(name, name));
        for (ConfigKey<?> key : ConfigKey.ALL) {
            aliases.putIfAbsent(key.path(), key.path());
            aliases.putIfAbsent(key.name(), key.path());
            String flag = camelCase(key.flag().substring(2));
            aliases.putIfAbsent(flag, key.path());
            key.section().ifPresent(section -> aliases.putIfAbsent(section + "." + flag, key.path()));
        }
        return aliases;
    }

    private static String camelCase(String dashed) {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : dashed.toCharArray()) {
            if (c == '-') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    /** Nearest-name suggestions for unknown keys and variables. */
    static final class Suggestions {
        private Suggestions() {
        }

        /** The candidate closest to {@code name} by edit distance (ignoring case), or null when none is close. */
        static String nearest(String name, List<String> candidates) {
            Map<String, String> self = new LinkedHashMap<>();
            candidates.forEach(c -> self.put(c, c));
            return nearest(name, self);
        }

        /**
         * What the alias closest to {@code name} stands for, or null when none is close: edit distance ignoring
         * case, dashes and underscores, at most a third of the name (2 for short names).
         */
        static String nearest(String name, Map<String, String> aliases) {
            String best = null;
            int bestDistance = Integer.MAX_VALUE;
            for (Map.Entry<String, String> alias : aliases.entrySet()) {
                int distance = distance(normalized(name), normalized(alias.getKey()));
                if (distance < bestDistance) {
                    best = alias.getValue();
                    bestDistance = distance;
                }
            }
            return best != null && bestDistance <= Math.max(2, name.length() / 3) ? best : null;
        }

        private static String normalized(String name) {
            return name.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
        }

        private static int distance(String a, String b) {
            int[] previous = new int[b.length() + 1];
            int[] current = new int[b.length() + 1];
            for (int j = 0; j <= b.length(); j++) {
                previous[j] = j;
            }
            for (int i = 1; i <= a.length(); i++) {
                current[0] = i;
                for (int j = 1; j <= b.length(); j++) {
                    int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                    current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
                }
                int[] swap = previous;
                previous = current;
                current = swap;
            }
            return previous[b.length()];
        }
    }
}
