package dev.fedprune.simulations.study;

import dev.fedprune.simulations.study.StudyScenario.ScenarioException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** A scenario file read as YAML: its top-level mapping, and the line of every key, for errors that name where. */
final class ScenarioYaml {
    private ScenarioYaml() {
    }

    /** The scenario file's top-level mapping, or an error naming the file when it is not valid YAML or not a mapping. */
    static Map<?, ?> readMapping(Path file, String text) {
        Object root;
        try {
            root = YAMLMapper.builder().build().readValue(text, Object.class);
        } catch (JacksonException e) {
            throw new ScenarioException(file + ": not valid YAML: " + e.getOriginalMessage());
        }
        if (!(root instanceof Map<?, ?> raw)) {
            throw new ScenarioException(file + ": expected a mapping of fields");
        }
        return raw;
    }

    /**
     * Line of every key and list entry, by path from the YAML token stream: {@code failures.dropoutFraction},
     * {@code methods[2]}, {@code methods[2].spec.method}.
     */
    static Map<String, Integer> keyLines(Path file, String text) {
        Map<String, Integer> lines = new HashMap<>();
        Deque<Container> open = new ArrayDeque<>();
        try (JsonParser parser = YAMLMapper.builder().build().createParser(text)) {
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                int line = parser.currentTokenLocation().getLineNr();
                switch (token) {
                    case PROPERTY_NAME -> {
                        Container c = open.peek();
                        c.key = parser.currentName();
                        lines.putIfAbsent(c.path.isEmpty() ? c.key : c.path + "." + c.key, line);
                    }
                    case START_OBJECT, START_ARRAY -> {
                        String path = childPath(open.peek());
                        if (open.peek() != null && open.peek().array) {
                            lines.putIfAbsent(path, line);
                        }
                        open.push(new Container(path, token == JsonToken.START_ARRAY));
                    }
                    case END_OBJECT, END_ARRAY -> {
                        open.pop();
                        if (open.peek() != null && open.peek().array) {
                            open.peek().index++;
                        }
                    }
                    default -> {
                        Container c = open.peek();
                        if (c != null && c.array) {
                            lines.putIfAbsent(childPath(c), line);
                            c.index++;
                        }
                    }
                }
            }
        } catch (JacksonException e) {
            throw new ScenarioException(file + ": not valid YAML: " + e.getOriginalMessage());
        }
        return lines;
    }

    /** An open mapping or list while reading the token stream, with where it is and what it is at. */
    private static final class Container {
        final String path;
        final boolean array;
        String key;
        int index;

        Container(String path, boolean array) {
            this.path = path;
            this.array = array;
        }
    }

    private static String childPath(Container parent) {
        if (parent == null) {
            return "";
        }
        if (parent.array) {
            return parent.path + "[" + parent.index + "]";
        }
        return parent.path.isEmpty() ? parent.key : parent.path + "." + parent.key;
    }
}
