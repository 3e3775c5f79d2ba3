package dev.fedprune.coordinator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.app.CoordinatorApplication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The REST API of a real coordinator application on a random port, with its H2 file database,
 * called with the bootstrap admin's API token.
 */
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class JobApiTest {
    static final Path DATA;
    static final String ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789";

    static {
        try {
            DATA = Files.createTempDirectory("fedprune-api");
            SyntheticLlama.write(DATA.resolve("model"), new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 1);
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
    dev.fedprune.coordinator.node.CoordinatorNode node;

    final HttpClient http = HttpClient.newHttpClient();
    final JsonMapper json = JsonMapper.builder().build();

    HttpResponse<String> call(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + env.getProperty("local.server.port") + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        b.header("Authorization", "Bearer " + ADMIN_TOKEN);
        if (body != null) {
            b.header("Content-Type", "application/yaml");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void malformedSpecIsA400NamingTheField() throws Exception {
        HttpResponse<String> r = call("POST", "/api/jobs", "model: " + DATA.resolve("model") + "\nsparsity: 2\n");
        assertEquals(400, r.statusCode(), r.body());
        JsonNode body = json.readTree(r.body());
        assertEquals("sparsity", body.get("field").asString());
        assertTrue(body.get("message").asString().contains("[0, 1)"));

        HttpResponse<String> noModel = call("POST", "/api/jobs", "model: /no/such/dir\nsparsity: 0.5\n");
        assertEquals(400, noModel.statusCode());
        assertEquals("model", json.readTree(noModel.body()).get("field").asString());
        assertEquals(0, json.readTree(call("GET", "/api/jobs", null).body()).size(), "a refused spec creates no job");
    }

    @Test
    void submittedJobIsVisibleAndCancellable() throws Exception {
        HttpResponse<String> created = call("POST", "/api/jobs", "{\"name\": \"api\", \"model\": \"" + DATA.resolve("model") + "\", \"sparsity\": 0.5, \"agentsPerRound\": 2}");
        assertEquals(201, created.statusCode(), created.body());
        String id = json.readTree(created.body()).get("id").asString();

        JsonNode job = json.readTree(call("GET", "/api/jobs/" + id, null).body());
        assertEquals("api", job.get("name").asString());
        assertEquals(0.5, job.get("spec").get("sparsity").asDouble());
        assertEquals(200, call("GET", "/api/jobs/" + id + "/rounds", null).statusCode());

        assertEquals(404, call("GET", "/api/jobs/job-nope", null).statusCode());
        JsonNode cancelled = json.readTree(call("POST", "/api/jobs/" + id + "/cancel", null).body());
        assertEquals("CANCELLED", cancelled.get("state").asString());
        // who submitted and who cancelled: in the job's events and in the audit log
        String events = cancelled.get("events").toString();
        assertTrue(events.contains("submitted by admin") && events.contains("cancelled by admin"), events);
        var submitted = node.audit().entries(10_000, dev.fedprune.coordinator.security.AuditLog.JOB_SUBMITTED);
        assertTrue(submitted.stream().anyMatch(e -> id.equals(e.subject()) && "admin".equals(e.actor())), submitted.toString());
        var cancels = node.audit().entries(10_000, dev.fedprune.coordinator.security.AuditLog.JOB_CANCELLED);
        assertTrue(cancels.stream().anyMatch(e -> id.equals(e.subject()) && "admin".equals(e.actor())), cancels.toString());
        assertEquals(409, call("POST", "/api/jobs/" + id + "/cancel", null).statusCode());
    }

    @Test
    void healthIsUp() throws Exception {
        HttpResponse<String> r = call("GET", "/actuator/health", null);
        assertEquals(200, r.statusCode());
        assertEquals("UP", json.readTree(r.body()).get("status").asString());
    }
}
