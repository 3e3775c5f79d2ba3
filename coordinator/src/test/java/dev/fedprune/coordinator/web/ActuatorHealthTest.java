package dev.fedprune.coordinator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.coordinator.app.CoordinatorApplication;
import dev.fedprune.coordinator.node.CoordinatorNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code /actuator/health} of a real coordinator application: the database, gRPC server and round
 * engine as components, the liveness and readiness probes, and a stopped engine reported DOWN.
 */
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ActuatorHealthTest {
    static final String ADMIN_TOKEN = "test-admin-token-health-0123456789abcdef0123";
    static final Path DATA;

    static {
        try {
            DATA = Files.createTempDirectory("fedprune-health");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("fedprune.data-dir", () -> DATA.resolve("coordinator").toString());
        registry.add("fedprune.grpc.port", () -> 0);
        registry.add("fedprune.grpc.bind-address", () -> "127.0.0.1");
        registry.add("fedprune.security.keystore.password", () -> "test-keystore-password");
        registry.add("fedprune.security.admin.password", () -> "test-admin-password");
        registry.add("fedprune.security.admin.token", () -> ADMIN_TOKEN);
    }

    @Autowired
    Environment env;

    @Autowired
    CoordinatorNode node;

    final HttpClient http = HttpClient.newHttpClient();
    final JsonMapper json = JsonMapper.builder().build();

    HttpResponse<String> get(String path, boolean asOperator) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + env.getProperty("local.server.port") + path));
        if (asOperator) {
            b.header("Authorization", "Bearer " + ADMIN_TOKEN);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static Set<String> componentNames(JsonNode health) {
        Set<String> names = new TreeSet<>();
        health.get("components").propertyNames().forEach(names::add);
        return names;
    }

    @Test
    void healthHasTheDatabaseGrpcAndEngineUpWithDetailsForOperatorsOnly() throws Exception {
        HttpResponse<String> anonymous = get("/actuator/health", false);
        assertEquals(200, anonymous.statusCode(), anonymous.body());
        JsonNode publicHealth = json.readTree(anonymous.body());
        assertEquals("UP", publicHealth.get("status").asString());
        for (String component : List.of("db", "grpc", "engine")) {
            assertEquals("UP", publicHealth.get("components").get(component).get("status").asString(), component + ": " + anonymous.body());
            assertFalse(publicHealth.get("components").get(component).has("details"), "details are for operators: " + anonymous.body());
        }

        assertTrue(componentNames(publicHealth).containsAll(Set.of("db", "grpc", "engine", "livenessState", "readinessState")), anonymous.body());

        JsonNode health = json.readTree(get("/actuator/health", true).body());
        JsonNode db = health.get("components").get("db").get("details");
        assertTrue(db.get("database").asString().startsWith("H2 "), db.toString());
        assertEquals("select 1", db.get("validationQuery").asString());
        assertEquals(8, db.get("pool").get("max").asInt());
        JsonNode grpc = health.get("components").get("grpc").get("details");
        assertEquals("/127.0.0.1:" + node.grpcPort(), grpc.get("listening").get(0).asString(), grpc.toString());
        assertEquals("SERVING", grpc.get("grpcHealth").asString());
        JsonNode engine = health.get("components").get("engine").get("details");
        assertEquals(200, engine.get("tickMillis").asInt(), engine.toString());
        assertEquals(30_000, engine.get("allowedMillis").asInt());
        assertTrue(engine.get("millisSinceLastSuccessfulTick").asLong() < 30_000, engine.toString());
    }

    @Test
    void livenessAndReadinessProbesAnswer() throws Exception {
        HttpResponse<String> liveness = get("/actuator/health/liveness", false);
        assertEquals(200, liveness.statusCode(), liveness.body());
        assertEquals("UP", json.readTree(liveness.body()).get("status").asString());
        assertEquals(Set.of("livenessState"), componentNames(json.readTree(liveness.body())));

        HttpResponse<String> readiness = get("/actuator/health/readiness", false);
        assertEquals(200, readiness.statusCode(), readiness.body());
        assertEquals("UP", json.readTree(readiness.body()).get("status").asString());
        assertEquals(Set.of("db", "grpc", "readinessState"), componentNames(json.readTree(readiness.body())));
    }

    @Test
    void aStoppedEngineIsDownWithTheReasonAndUpOnceItTicksAgain() throws Exception {
        node.engine().close();
        try {
            HttpResponse<String> down = get("/actuator/health", true);
            assertEquals(503, down.statusCode(), down.body());
            JsonNode engine = json.readTree(down.body()).get("components").get("engine");
            assertEquals("DOWN", engine.get("status").asString());
            assertEquals("the round engine's ticker is not running (the engine was closed or never started)",
                    engine.get("details").get("error").asString());
            // Not a reason to restart the process or to stop sending agents here: the probes stay UP.
            assertEquals(200, get("/actuator/health/liveness", false).statusCode());
            assertEquals(200, get("/actuator/health/readiness", false).statusCode());
        } finally {
            node.engine().start(200);
        }
        HttpResponse<String> up = get("/actuator/health", false);
        assertEquals(200, up.statusCode(), up.body());
        assertEquals("UP", json.readTree(up.body()).get("components").get("engine").get("status").asString());
    }
}
