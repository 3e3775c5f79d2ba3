package dev.fedprune.coordinator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.app.CoordinatorApplication;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.security.pki.Fingerprints;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Operators over real HTTP: who may do what, API tokens, failed logins in the audit log, the CA in the API. */
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OperatorSecurityTest {
    static final Path DATA;
    static final String ADMIN_PASSWORD = "admin-password-for-tests";

    static {
        try {
            DATA = Files.createTempDirectory("fedprune-operators");
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
        registry.add("fedprune.security.keystore.password", () -> "keystore-password-for-tests");
        registry.add("fedprune.security.admin.username", () -> "root");
        registry.add("fedprune.security.admin.password", () -> ADMIN_PASSWORD);
    }

    @Autowired
    Environment env;

    @Autowired
    CoordinatorNode node;

    final HttpClient http = HttpClient.newHttpClient();
    final JsonMapper json = JsonMapper.builder().build();

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    HttpResponse<String> call(String method, String path, String authorization, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + env.getProperty("local.server.port") + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    String admin() {
        return basic("root", ADMIN_PASSWORD);
    }

    void createOperator(String name, String role) throws Exception {
        HttpResponse<String> r = call("POST", "/api/operators", admin(),
                "{\"username\":\"" + name + "\",\"password\":\"" + name + "-password-123\",\"role\":\"" + role + "\"}");
        assertTrue(r.statusCode() == 201 || r.body().contains("exists already"), r.body());
    }

    @Test
    void anonymousRequestsAreRefusedWithoutABasicChallenge() throws Exception {
        HttpResponse<String> r = call("GET", "/api/jobs", null, null);
        assertEquals(401, r.statusCode());
        assertFalse(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic"), "browsers must not cache Basic credentials");
        assertTrue(json.readTree(r.body()).get("message").asString().contains("Bearer"));
        assertEquals(200, call("GET", "/actuator/health", null, null).statusCode(), "health stays public");
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + env.getProperty("local.server.port") + "/"))
                .header("Accept", "text/html").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(302, page.statusCode(), "pages redirect a browser to the login form");
        assertTrue(page.headers().firstValue("Location").orElse("").endsWith("/login"));
    }

    @Test
    void wrongPasswordIsRefusedAndAudited() throws Exception {
        long before = node.audit().entries(10_000, AuditLog.LOGIN_FAILED).size();
        assertEquals(401, call("GET", "/api/jobs", basic("root", "not-the-password"), null).statusCode());
        assertEquals(401, call("GET", "/api/jobs", basic("nobody", "whatever-password"), null).statusCode());
        assertEquals(401, call("GET", "/api/jobs", "Bearer fpa_forged", null).statusCode());
        var entries = node.audit().entries(10_000, AuditLog.LOGIN_FAILED);
        assertEquals(before + 3, entries.size());
        assertTrue(entries.stream().anyMatch(e -> "wrong password".equals(e.detail()) && "root".equals(e.subject())));
        assertTrue(entries.stream().noneMatch(e -> String.valueOf(e.detail()).contains("not-the-password")), "no secret in the audit log");
    }

    @Test
    void rolesDecideWhatAnOperatorMayDo() throws Exception {
        createOperator("vera", "viewer");
        createOperator("otto", "operator");
        String viewer = basic("vera", "vera-password-123");
        String operator = basic("otto", "otto-password-123");
        String spec = "{\"name\": \"roles\", \"model\": \"" + DATA.resolve("model") + "\", \"sparsity\": 0.5, \"agentsPerRound\": 2}";

        assertEquals(200, call("GET", "/api/jobs", viewer, null).statusCode());
        assertEquals(403, call("POST", "/api/jobs", viewer, spec).statusCode(), "viewers cannot submit");
        assertEquals(403, call("POST", "/api/enrollment-tokens", viewer, "{}").statusCode());
        assertEquals(201, call("POST", "/api/jobs", operator, spec).statusCode());
        assertEquals(403, call("GET", "/api/audit", operator, null).statusCode(), "only admins read the audit log");
        assertEquals(403, call("POST", "/api/operators", operator, "{\"username\":\"x\",\"password\":\"xxxxxxxxxxxxxxx\"}").statusCode());
        assertEquals(200, call("GET", "/api/audit", admin(), null).statusCode());
        assertEquals("viewer", json.readTree(call("GET", "/api/me", viewer, null).body()).get("role").asString());
    }

    @Test
    void operatorsMintEnrollmentTokensAndSeeTheCaFingerprint() throws Exception {
        createOperator("olga", "operator");
        String operator = basic("olga", "olga-password-123");
        JsonNode ca = json.readTree(call("GET", "/api/security/ca", operator, null).body());
        assertEquals(Fingerprints.display(node.pki().caFingerprint()), ca.get("fingerprint").asString());
        assertTrue(ca.get("certificatePem").asString().startsWith("-----BEGIN CERTIFICATE-----"));

        HttpResponse<String> minted = call("POST", "/api/enrollment-tokens", operator, "{\"site\":\"hospital-a\",\"ttlMinutes\":30}");
        assertEquals(201, minted.statusCode(), minted.body());
        JsonNode t = json.readTree(minted.body());
        assertTrue(t.get("token").asString().startsWith("fpe_"));
        assertEquals("hospital-a", t.get("site").asString());
        assertTrue(t.get("enrollCommand").asString().contains("--ca-fingerprint " + ca.get("fingerprint").asString()));
        // The token travels in the environment of the command, not on its command line (visible to every user in `ps`).
        assertTrue(t.get("enrollCommand").asString().startsWith("FEDPRUNE_ENROLLMENT_TOKEN=" + t.get("token").asString() + " fedprune-agent enroll "),
                t.get("enrollCommand").asString());
        assertTrue(!t.get("enrollCommand").asString().contains("--token"), t.get("enrollCommand").asString());
        String listed = call("GET", "/api/enrollment-tokens", operator, null).body();
        assertTrue(listed.contains(t.get("id").asString()) && !listed.contains(t.get("token").asString()), "tokens are listed, never shown again");

        HttpResponse<String> bad = call("POST", "/api/enrollment-tokens", operator, "{\"ttlMinutes\":-5}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals("ttl", json.readTree(bad.body()).get("field").asString());
        assertEquals(404, call("POST", "/api/agents/agent-nope/revoke", operator, "{}").statusCode());
    }

    @Test
    void apiTokensAuthenticateUntilRevokedAndNeverExceedTheirOwner() throws Exception {
        createOperator("otis", "operator");
        String operator = basic("otis", "otis-password-123");
        assertEquals(403, call("POST", "/api/api-tokens", operator, "{\"name\":\"ci\",\"role\":\"admin\"}").statusCode());
        HttpResponse<String> created = call("POST", "/api/api-tokens", operator, "{\"name\":\"ci\",\"role\":\"viewer\",\"ttlDays\":30}");
        assertEquals(201, created.statusCode(), created.body());
        JsonNode t = json.readTree(created.body());
        String bearer = "Bearer " + t.get("token").asString();
        assertEquals(200, call("GET", "/api/jobs", bearer, null).statusCode());
        assertEquals(403, call("POST", "/api/enrollment-tokens", bearer, "{}").statusCode(), "the token has the viewer role it was given");
        assertEquals(204, call("DELETE", "/api/api-tokens/" + t.get("id").asString(), operator, null).statusCode());
        assertEquals(401, call("GET", "/api/jobs", bearer, null).statusCode(), "a revoked token is refused at once");
    }

    @Test
    void operatorCliMintsTokensShowsTheCaAndReadsTheAudit() throws Exception {
        HttpResponse<String> created = call("POST", "/api/api-tokens", admin(), "{\"name\":\"cli\"}");
        String token = json.readTree(created.body()).get("token").asString();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        String url = "http://127.0.0.1:" + env.getProperty("local.server.port");
        assertEquals(0, dev.fedprune.coordinator.cli.OperatorCli.run(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true),
                "--url", url, "--token", token, "security", "token", "--site", "hospital-b", "--ttl-minutes", "10"), err::toString);
        assertTrue(out.toString().trim().startsWith("fpe_"), out::toString);
        assertTrue(err.toString().contains("fedprune-agent enroll --coordinator"), err::toString);
        out.reset();
        assertEquals(0, dev.fedprune.coordinator.cli.OperatorCli.run(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true),
                "--url", url, "--token", token, "security", "ca"));
        assertEquals(Fingerprints.display(node.pki().caFingerprint()), out.toString().trim());
        out.reset();
        assertEquals(0, dev.fedprune.coordinator.cli.OperatorCli.run(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true),
                "--url", url, "--token", token, "security", "audit", "--event", AuditLog.TOKEN_MINTED));
        assertTrue(out.toString().contains("site hospital-b"), out::toString);
        assertEquals(2, dev.fedprune.coordinator.cli.OperatorCli.run(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true),
                "--url", url, "--token", token, "security", "revoke", "agent-unknown"));
    }

    @Test
    void crossSiteStateChangesWithABrowserSessionAreRefused() throws Exception {
        HttpClient browser = HttpClient.newBuilder().cookieHandler(new java.net.CookieManager()).build();
        String base = "http://127.0.0.1:" + env.getProperty("local.server.port");
        HttpResponse<String> login = browser.send(HttpRequest.newBuilder(URI.create(base + "/login"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("username=root&password=" + ADMIN_PASSWORD)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(302, login.statusCode());
        assertFalse(login.headers().firstValue("Location").orElse("").contains("error"), "login succeeded");
        HttpResponse<String> evil = browser.send(HttpRequest.newBuilder(URI.create(base + "/api/enrollment-tokens")).header("Content-Type", "application/json")
                .header("Origin", "https://evil.example").POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, evil.statusCode(), evil.body());
        assertTrue(evil.body().contains("cross-site"));
        HttpResponse<String> same = browser.send(HttpRequest.newBuilder(URI.create(base + "/api/enrollment-tokens")).header("Content-Type", "application/json")
                .header("Origin", base).POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, same.statusCode(), same.body());
    }
}
