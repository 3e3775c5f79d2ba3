package dev.fedprune.agent.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The agent's logback.xml in a JVM of its own, as the agent starts: text lines by default, JSON lines
 * with {@code FEDPRUNE_LOG_FORMAT=json} or {@code -Dfedprune.log.format=json}.
 */
class AgentLogFormatTest {
    static final String MESSAGE = "downloaded \"model.safetensors\"\tin 3 chunks";

    /** Logs one line and one failure the way agent code does. */
    public static void main(String[] args) {
        Logger log = LoggerFactory.getLogger("dev.fedprune.agent.task.AgentLoop");
        log.info("downloaded {}\tin {} chunks", "\"model.safetensors\"", 3);
        log.error("upload failed", new IllegalStateException("coordinator went away"));
    }

    static List<String> run(Map<String, String> env, String... jvmOptions) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        command.addAll(List.of(jvmOptions));
        command.add(AgentLogFormatTest.class.getName());
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("FEDPRUNE_LOG_FORMAT");
        pb.environment().putAll(env);
        // Logs go to stderr; logback's own warnings to stdout.
        Process p = pb.redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), output);
        return output.lines().toList();
    }

    static void assertJsonLines(List<String> lines) {
        JsonMapper json = JsonMapper.builder().build();
        assertEquals(2, lines.size(), String.join("\n", lines));
        JsonNode info = json.readTree(lines.get(0));
        assertEquals("INFO", info.get("level").asString());
        assertEquals(MESSAGE, info.get("message").asString());
        assertEquals("dev.fedprune.agent.task.AgentLoop", info.get("logger_name").asString());
        assertEquals("main", info.get("thread_name").asString());
        assertTrue(info.get("@timestamp").asString().matches("\\d{4}-\\d\\d-\\d\\dT.*"), info.toString());
        JsonNode error = json.readTree(lines.get(1));
        assertEquals("ERROR", error.get("level").asString());
        assertEquals("upload failed", error.get("message").asString());
        assertTrue(error.get("stack_trace").asString().startsWith("java.lang.IllegalStateException: coordinator went away"), error.toString());
    }

    @Test
    void environmentVariableSwitchesToJsonLines() throws Exception {
        assertJsonLines(run(Map.of("FEDPRUNE_LOG_FORMAT", "json")));
    }

    @Test
    void systemPropertySwitchesToJsonLines() throws Exception {
        assertJsonLines(run(Map.of(), "-Dfedprune.log.format=JSON"));
    }

    @Test
    void textByDefaultAndForAnUnknownFormatWithAWarning() throws Exception {
        List<String> plain = run(Map.of());
        assertTrue(plain.get(0).matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  AgentLoop - .*") && plain.get(0).endsWith(MESSAGE), plain.toString());

        List<String> unknown = run(Map.of("FEDPRUNE_LOG_FORMAT", "xml"));
        String all = String.join("\n", unknown);
        assertTrue(all.contains("log format 'xml' (fedprune.log.format / FEDPRUNE_LOG_FORMAT) is neither text nor json: writing text"), all);
        assertTrue(unknown.stream().anyMatch(l -> l.endsWith("INFO  AgentLoop - " + MESSAGE)), all);
    }
}
