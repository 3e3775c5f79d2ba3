package dev.fedprune.coordinator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.app.CoordinatorApplication;
import dev.fedprune.coordinator.cli.OperatorCli;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The operator CLI against a real coordinator with real agents, then the Prometheus counters of that job. */
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OperatorCliAndMetricsTest {
    static final Path DATA;

    static {
        try {
            DATA = Files.createTempDirectory("fedprune-cli");
            SyntheticLlama.write(DATA.resolve("model"), new SyntheticLlama.Shape(2, 16, 32, 2, 1, 20, 16, true, DType.F32), 2);
            Files.writeString(DATA.resolve("data.jsonl"), "{\"ids\":[1,5,6]}\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("fedprune.data-dir", () -> DATA.resolve("coordinator").toString());
        registry.add("fedprune.grpc.port", () -> 0);
        registry.add("fedprune.grpc.bind-address", () -> "127.0.0.1");
        registry.add("fedprune.security.admin.password", () -> "cli-admin-password");
        registry.add("fedprune.security.admin.token", () -> ADMIN_TOKEN);
    }

    /** The CLI authenticates with an API token (Spring Security); this one is registered for the initial admin. */
    static final String ADMIN_TOKEN = "cli-test-admin-token-0123456789abcdef0123";

    @Autowired
    Environment env;

    @Autowired
    CoordinatorNode node;

    record Run(int exit, String out, String err) {
    }

    Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of("--url", "http://127.0.0.1:" + env.getProperty("local.server.port"), "--token", ADMIN_TOKEN));
        all.addAll(List.of(args));
        int exit = OperatorCli.run(new PrintStream(out, true), new PrintStream(err, true), all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    String http(String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + env.getProperty("local.server.port") + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    static double metric(String scrape, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(scrape);
        assertTrue(m.find(), () -> name + " missing from the scrape");
        return Double.parseDouble(m.group(2));
    }

    @Test
    void cliRunsAJobEndToEndAndMetricsCountIt() throws Exception {
        Files.writeString(DATA.resolve("bad.yaml"), "model: " + DATA.resolve("model") + "\nsparsity: 0.5\ncomparisonGroup: diagonal\n");
        Run bad = cli("jobs", "submit", DATA.resolve("bad.yaml").toString());
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("HTTP 400") && bad.err().contains("comparisonGroup"), bad.err());

        List<AgentLoop> loops = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            CoordinatorClient client = CoordinatorClient.enroll("127.0.0.1:" + node.grpcPort(),
                    node.enrollment().mintToken("site", java.time.Duration.ofMinutes(5), "test").token(), node.pki().caFingerprint(),
                    "cli-agent-" + i, "site", DeviceResources.getDefaultInstance(), CoordinatorClient.defaultRetry());
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, DATA.resolve("agent-" + i), null),
                    Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()), new AgentLoop.Options("cli-agent-" + i, DATA.resolve("data.jsonl"), false, 0, 1));
            Thread t = new Thread(loop::run);
            t.setDaemon(true);
            t.start();
            loops.add(loop);
        }
        try {
            Files.writeString(DATA.resolve("job.yaml"), "name: cli\nmodel: " + DATA.resolve("model") + "\nlocalPruner: magnitude\nsparsity: 0.5\nagentsPerRound: 2\nevaluationSamples: 1\n");
            Run submitted = cli("jobs", "submit", DATA.resolve("job.yaml").toString());
            assertEquals(0, submitted.exit(), () -> "submit: " + submitted.out() + submitted.err());
            String id = submitted.out().trim();

            Run watched = cli("jobs", "watch", id);
            assertEquals(0, watched.exit(), () -> "watch: " + watched.out() + watched.err());
            // One voting round, then the evaluation round.
            assertTrue(watched.out().contains("round 1/2 [") && watched.out().contains("round 2/2 ["), watched.out());
            assertTrue(watched.out().contains("perplexity of the global model at the start: "), watched.out());
            assertTrue(watched.out().contains("perplexity of the global model after round 1: "), watched.out());
            assertTrue(watched.out().contains("job " + id + ": COMPLETED"), watched.out());
            assertTrue(watched.out().contains("overall sparsity 0.5000; per layer:") && watched.out().contains("  layer 0    0.5000"), watched.out());

            assertTrue(cli("jobs", "list").out().contains(id));
            Run agents = cli("agents", "list");
            assertTrue(agents.out().contains("cli-agent-0") && agents.out().contains("cli-agent-1"), agents.out());

            Path out = DATA.resolve("downloaded");
            Run got = cli("artifacts", "get", id, "--out", out.toString());
            assertEquals(0, got.exit(), () -> "get: " + got.out() + got.err());
            assertTrue(Files.size(out.resolve("model/model.safetensors")) > 0);
            assertTrue(Files.isRegularFile(out.resolve("global-mask.safetensors")));
            assertTrue(Files.readString(out.resolve("report.json")).contains("\"overallSparsity\""));
            assertEquals(2, cli("jobs", "cancel", id).exit(), "a completed job cannot be cancelled");

            String scrape = http("/actuator/prometheus");
            assertEquals(2, metric(scrape, "fedprune_rounds_completed_total"));
            assertEquals(4, metric(scrape, "fedprune_contributions_folded_total"));
            assertEquals(4, metric(scrape, "fedprune_fold_latency_seconds_count"));
            long bytes = node.store().tasksOfJob(id).stream().mapToLong(t -> t.bytesUp()).sum();
            assertEquals(bytes, (long) metric(scrape, "fedprune_bytes_in_bytes_total"));
            assertEquals(2, metric(scrape, "fedprune_agents_online"));

            String openapi = http("/v3/api-docs");
            assertTrue(openapi.contains("/api/jobs/{id}/rounds") && openapi.contains("/api/agents"), openapi);
        } finally {
            loops.forEach(AgentLoop::stop);
        }
    }
}
