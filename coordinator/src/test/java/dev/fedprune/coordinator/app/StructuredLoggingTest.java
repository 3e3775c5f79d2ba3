package dev.fedprune.coordinator.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.util.ContextInitializer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.boot.logging.LoggingInitializationContext;
import org.springframework.boot.logging.LoggingSystem;
import org.springframework.boot.logging.logback.LogbackLoggingSystem;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ClassPathResource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The coordinator's console logging as its executable jar starts it (Spring Boot's default Logback
 * configuration; the jar has no logback.xml), with its application.yml and the one setting
 * {@code logging.structured.format.console=logstash}: every line is a JSON object.
 */
class StructuredLoggingTest {
    @Test
    void oneSettingTurnsConsoleLinesIntoJson() throws Exception {
        StandardEnvironment env = new StandardEnvironment();
        env.getPropertySources().addFirst(new MapPropertySource("setting", Map.of("logging.structured.format.console", "logstash")));
        for (PropertySource<?> yml : new YamlPropertySourceLoader().load("application.yml", new ClassPathResource("application.yml"))) {
            env.getPropertySources().addLast(yml);
        }
        // The test class path holds the agent's logback.xml, which the coordinator's jar does not: leave it out, as the jar does.
        LoggingSystem logging = new LogbackLoggingSystem(getClass().getClassLoader()) {
            @Override
            protected String[] getStandardConfigLocations() {
                return new String[0];
            }
        };
        Set<String> systemProperties = new HashSet<>(System.getProperties().stringPropertyNames());
        PrintStream stdout = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            logging.cleanUp(); // a Spring test earlier in this JVM may have initialized logging
            logging.initialize(new LoggingInitializationContext(env), null, null);
            LoggerFactory.getLogger("dev.fedprune.coordinator.round.RoundEngine").info("job {}: round {} opened", "job-7", 2);
        } finally {
            System.setOut(stdout);
            logging.cleanUp();
            System.getProperties().stringPropertyNames().stream().filter(p -> !systemProperties.contains(p)).forEach(System::clearProperty);
            LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
            context.reset();
            new ContextInitializer(context).autoConfig();
        }

        List<String> lines = console.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("round 2 opened")).toList();
        assertEquals(1, lines.size(), console.toString(StandardCharsets.UTF_8));
        JsonNode line = JsonMapper.builder().build().readTree(lines.get(0));
        assertEquals("INFO", line.get("level").asString());
        assertEquals("job job-7: round 2 opened", line.get("message").asString());
        assertEquals("dev.fedprune.coordinator.round.RoundEngine", line.get("logger_name").asString());
        assertTrue(line.has("@timestamp") && line.has("thread_name"), line.toString());
    }
}
