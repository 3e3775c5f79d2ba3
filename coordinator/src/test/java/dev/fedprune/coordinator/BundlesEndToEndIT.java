package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.store.TestDatabase;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The release path, from the two tarballs that {@code mvn package} builds, each unpacked into an empty directory:
 * the coordinator started by its launcher with its {@code conf/application.yml} edited as an operator would; a CA
 * fingerprint, an enrollment token and two jobs from the bundle's operator CLI; an agent from the site bundle, on
 * the bundle's own Java runtime (jlink), with libtorch unpacked from the bundle's {@code lib/} and nothing
 * downloaded, configured by its {@code conf/agent.yaml} (token and proxy password in files), enrolled and run as
 * its own process through an HTTP CONNECT proxy (the coordinator's name resolves only there); a small sparse-training job and a small FedPrLLM job completed; everything stopped.
 * The coordinator runs on PostgreSQL, through the configuration file's PostgreSQL section, when
 * {@code FEDPRUNE_TEST_POSTGRES_URL} names a test database ({@code .ci/run} starts one), and on its H2 file otherwise.
 */
class BundlesEndToEndIT {
    /** Resolves nowhere (RFC 6761 .invalid): the agent can reach the coordinator only through the proxy, which maps it. */
    static final String COORDINATOR_NAME = "coordinator.fedprune-bundle.invalid";
    static final String ADMIN_TOKEN = "bundle-admin-token-0123456789abcdef0123456789";
    static final String PROXY_USER = "site-a";
    static final String PROXY_PASSWORD = "proxy pass:word";
    static final Duration JOBS_TIMEOUT = Duration.ofMinutes(5);
    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;
    final HttpClient http = HttpClient.newHttpClient();
    final List<Process> processes = new ArrayList<>();
    int httpPort;
    TestDatabase database;

    @AfterEach
    void stopEverything() throws InterruptedException, SQLException {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : processes) {
            p.waitFor(30, TimeUnit.SECONDS);
        }
        if (database != null) {
            database.close();
        }
    }

    @Test
    void coordinatorAndAgentFromTheirBundlesCompleteASparseTrainingAndAFedPrLlmJobThroughAProxy() throws Exception {
        Path coordinatorHome = unpack(System.getProperty("fedprune.bundle.coordinator"), dir.resolve("opt-coordinator"));
        Path agentHome = unpack(System.getProperty("fedprune.bundle.agent"), dir.resolve("opt-agent"));
        for (String file : List.of("bin/fedprune-coordinator", "bin/fedprune", "lib/fedprune-coordinator.jar", "conf/application.yml",
                "conf/coordinator.env", "systemd/fedprune-coordinator.service")) {
            assertTrue(Files.isRegularFile(coordinatorHome.resolve(file)), "coordinator bundle lacks " + file);
        }
        for (String file : List.of("bin/fedprune-agent", "runtime/bin/java", "conf/agent.yaml", "systemd/fedprune-agent.service", "SITE.md")) {
            assertTrue(Files.isRegularFile(agentHome.resolve(file)), "agent bundle lacks " + file);
        }
        try (Stream<Path> lib = Files.list(agentHome.resolve("lib"))) {
            assertTrue(lib.anyMatch(p -> p.getFileName().toString().matches("pytorch-native-cpu-.*-linux-x86_64\\.jar")),
                    "the agent bundle carries libtorch");
        }

        // The operator's side: a configuration edited in place, the secrets in the environment, as the systemd unit has them.
        httpPort = ChildProcesses.freePort();
        int grpcPort = ChildProcesses.freePort();
        Path dataDir = dir.resolve("var-lib-fedprune-coordinator");
        Path conf = coordinatorHome.resolve("conf/application.yml");
        String yaml = Files.readString(conf);
        yaml = replaceOnce(yaml, "  port: 8080\n  # address: 127.0.0.1\n", "  port: " + httpPort + "\n  address: 127.0.0.1\n");
        yaml = replaceOnce(yaml, "data-dir: /var/lib/fedprune-coordinator", "data-dir: " + dataDir);
        yaml = replaceOnce(yaml, "bind-address: 0.0.0.0\n    port: 50051", "bind-address: 127.0.0.1\n    port: " + grpcPort);
        yaml = replaceOnce(yaml, "# server-names: coord.example.org,10.0.0.5", "server-names: " + COORDINATOR_NAME);
        Map<String, String> operatorEnv = new HashMap<>(Map.of(
                "PATH", System.getenv("PATH"),
                "HOME", Files.createDirectories(dir.resolve("operator-home")).toString(),
                "FEDPRUNE_JAVA_HOME", System.getProperty("java.home"),
                "FEDPRUNE_COORDINATOR_JAVA_OPTS", "-Xmx768m",
                "FEDPRUNE_SECURITY_KEYSTORE_PASSWORD", "bundle-keystore-password",
                "FEDPRUNE_SECURITY_ADMIN_PASSWORD", "bundle-admin-password",
                "FEDPRUNE_SECURITY_ADMIN_TOKEN", ADMIN_TOKEN,
                "FEDPRUNE_URL", "http://127.0.0.1:" + httpPort,
                "FEDPRUNE_TOKEN", ADMIN_TOKEN));
        String postgresql = System.getenv(TestDatabase.URL_VARIABLE);
        if (postgresql != null && !postgresql.isBlank()) {
            database = TestDatabase.postgresql();
            yaml = replaceOnce(yaml, "  # database:\n  #   url: jdbc:postgresql://db.example.org:5432/fedprune\n  #   user: fedprune\n",
                    "  database:\n    url: \"" + database.url() + "\"\n    user: " + database.user() + "\n");
            operatorEnv.put("FEDPRUNE_DATABASE_PASSWORD", database.password());
        } else {
            System.err.println("*** BundlesEndToEndIT runs the coordinator on H2: " + TestDatabase.URL_VARIABLE + " is not set ***");
        }
        Files.writeString(conf, yaml);
        // Started in a directory of its own: without conf/application.yml its data would land here, in ./fedprune-data.
        Path coordinatorCwd = Files.createDirectories(dir.resolve("coordinator-cwd"));
        Path coordinatorLog = dir.resolve("coordinator.log");
        Process coordinator = start(coordinatorCwd, operatorEnv, coordinatorLog,
                coordinatorHome.resolve("bin/fedprune-coordinator").toString(), "--fedprune.tick-millis=50");
        awaitHealthy(coordinator, coordinatorLog);

        String fingerprint = cli(coordinatorHome, operatorEnv, "security", "ca").strip();
        String token = cli(coordinatorHome, operatorEnv, "security", "token", "--site", "hospital-a", "--ttl-minutes", "10").strip();
        assertTrue(token.startsWith("fpe_"), token);

        Path model = dir.resolve("srv/models/tiny-llama");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        Path trainingSpec = Files.writeString(dir.resolve("sparse-training.yaml"), """
                name: bundle-sparse-training
                method: sparse_training
                variant: static_sparse
                architecture: small_vgg
                channels: [2, 4]
                imageSide: 8
                density: 0.5
                rounds: 2
                localSteps: 2
                batchSize: 8
                evaluationImages: 20
                agentsPerRound: 1
                quorum: 1
                deadlineSeconds: 300
                seed: 3
                """);
        Path fedPrLlmSpec = Files.writeString(dir.resolve("fedprllm.yaml"), """
                name: bundle-fedprllm
                model: %s
                localPruner: wanda
                localComparisonGroup: row
                sparsity: 0.5
                comparisonGroup: row
                agentsPerRound: 1
                quorum: 1
                deadlineSeconds: 300
                calibrationSamples: 4
                evaluationSamples: 4
                seed: 0
                """.formatted(model));
        // Both jobs wait for the agent, which then takes their tasks one after the other and exits once both are done.
        String trainingJob = cli(coordinatorHome, operatorEnv, "jobs", "submit", trainingSpec.toString()).strip();
        String fedPrLlmJob = cli(coordinatorHome, operatorEnv, "jobs", "submit", fedPrLlmSpec.toString()).strip();

        // The site's side: a bare environment (no JAVA_HOME, no Java options), its own data, the proxy password in a file.
        Path images = dir.resolve("srv/fedprune/images");
        WrongArithmeticTest.writeImages(images, 11);
        Path tokens = writeTokens(dir.resolve("srv/fedprune/calibration.jsonl"), 20, 16, 12);
        Path passwordFile = Files.writeString(Files.createDirectories(dir.resolve("etc-fedprune-agent")).resolve("proxy-password"),
                PROXY_PASSWORD + "\n");
        Path workdir = dir.resolve("var-lib-fedprune-agent");
        Path engineCache = workdir.resolve("engine-cache");
        Map<String, String> siteEnv = Map.of(
                "PATH", "/usr/bin:/bin",
                "HOME", Files.createDirectories(dir.resolve("site-home")).toString(),
                "DJL_CACHE_DIR", engineCache.toString(),
                "FEDPRUNE_AGENT_JAVA_OPTS", "-Xmx768m");
        String agent = agentHome.resolve("bin/fedprune-agent").toString();
        String target = COORDINATOR_NAME + ":" + grpcPort;
        Path siteCwd = Files.createDirectories(dir.resolve("site-cwd"));

        try (ConnectProxy proxy = ConnectProxy.relaying(PROXY_USER, PROXY_PASSWORD, Map.of(COORDINATOR_NAME, "127.0.0.1"))) {
            String proxyUrl = "http://" + PROXY_USER + "@127.0.0.1:" + proxy.port();
            Path enrollLog = dir.resolve("agent-enroll.log");
            // The site administrator fills in the bundle's conf/agent.yaml; the one-time token goes in a file, as the unit expects.
            Path tokenFile = Files.writeString(dir.resolve("etc-fedprune-agent").resolve("enrollment-token"), token + "\n");
            Path config = agentHome.resolve("conf/agent.yaml");
            Files.writeString(config, """
                    coordinator: %s
                    workdir: %s
                    name: hospital-a
                    data:
                      tokens: %s
                      images: %s
                    exitWhenIdle: true
                    proxy:
                      url: %s
                      passwordFile: %s
                    enrollment:
                      tokenFile: %s
                      caFingerprint: "%s"
                    """.formatted(target, workdir, tokens, images, proxyUrl, passwordFile, tokenFile, fingerprint));
            Process enroll = start(siteCwd, siteEnv, enrollLog, agent, "enroll", "--config", config.toString());
            assertTrue(enroll.waitFor(2, TimeUnit.MINUTES), "enroll did not end within 2 minutes:\n" + tail(enrollLog));
            assertEquals(0, enroll.exitValue(), "enroll:\n" + tail(enrollLog));
            assertEquals(List.of(target), proxy.tunnels(), "enrollment: one tunnel, to the name the agent was given");

            Path agentLog = dir.resolve("agent-run.log");
            Process run = start(siteCwd, siteEnv, agentLog, agent, "run", "--config", config.toString());
            Path javaOfAgent = awaitExec(run);
            assertEquals(agentHome.resolve("runtime/bin/java").toRealPath(), javaOfAgent, "the agent runs on the bundle's own Java runtime");

            JsonNode training = awaitFinal(trainingJob, coordinator, run, coordinatorLog, agentLog);
            JsonNode fedPrLlm = awaitFinal(fedPrLlmJob, coordinator, run, coordinatorLog, agentLog);
            assertEquals("COMPLETED", training.get("state").asString(), () -> training + "\n" + tail(agentLog));
            assertEquals("COMPLETED", fedPrLlm.get("state").asString(), () -> fedPrLlm + "\n" + tail(agentLog));
            assertTrue(run.waitFor(2, TimeUnit.MINUTES), "the agent did not exit once idle:\n" + tail(agentLog));
            assertEquals(0, run.exitValue(), "agent run:\n" + tail(agentLog));

            // Results in the data directory that conf/application.yml named, and what they say.
            for (JsonNode job : List.of(training, fedPrLlm)) {
                Path result = Path.of(job.get("resultDir").asString());
                assertTrue(result.startsWith(dataDir), "result outside the configured data-dir: " + result);
                for (String file : List.of("report.json", "global-mask.safetensors", "model/model.safetensors", "model/config.json")) {
                    assertTrue(Files.isRegularFile(result.resolve(file)), job.get("name").asString() + " lacks " + file + " in " + result);
                }
            }
            assertFalse(Files.exists(coordinatorCwd.resolve("fedprune-data")), "the coordinator ignored conf/application.yml");
            if (database != null) {
                assertEquals(2, completedJobsIn(database), "the jobs are in the PostgreSQL database that conf/application.yml named");
                assertFalse(Files.exists(dataDir.resolve("db")), "an H2 database next to PostgreSQL");
            }
            assertEquals(0.5, fedPrLlm.get("report").get("overallSparsity").asDouble(), 0.05, fedPrLlm.get("report").toString());
            assertEquals(0.5, training.get("report").get("overallSparsity").asDouble(), 0.05, training.get("report").toString());

            // Every call went through the proxy, to the name only the proxy resolves; the model download among them.
            List<String> tunnels = proxy.tunnels();
            assertTrue(tunnels.size() >= 2, "enrollment and the run's mTLS channel: " + tunnels);
            assertTrue(tunnels.stream().allMatch(target::equals), "every tunnel leads to the coordinator: " + tunnels);
            long modelBytes = Files.size(model.resolve("model.safetensors"));
            assertTrue(proxy.bytesRelayed() > modelBytes, proxy.bytesRelayed() + " bytes through the proxy for a " + modelBytes + "-byte model");
            assertEquals(0, proxy.refusedCredentials());

            // libtorch came out of the bundle's lib/ into the site's cache; DJL downloaded nothing.
            try (Stream<Path> unpacked = Files.walk(engineCache)) {
                assertTrue(unpacked.anyMatch(p -> p.getFileName().toString().equals("libtorch_cpu.so")),
                        "libtorch was not unpacked into DJL_CACHE_DIR " + engineCache);
            }
            assertFalse(Files.readString(agentLog).contains("Downloading"), tail(agentLog));
        }

        // Stopping the coordinator the way systemd does: SIGTERM, and it ends.
        coordinator.destroy();
        assertTrue(coordinator.waitFor(60, TimeUnit.SECONDS), "the coordinator did not stop on SIGTERM:\n" + tail(coordinatorLog));
    }

    /** Unpacks a bundle with tar into an empty directory and returns its one top-level directory. */
    private Path unpack(String bundle, Path into) throws Exception {
        assertTrue(bundle != null && Files.isRegularFile(Path.of(bundle)), "no bundle at " + bundle
                + ": build both first (mvn -B package from the repository root; -pl coordinator needs -am)");
        Files.createDirectories(into);
        Process tar = new ProcessBuilder("tar", "-xzf", bundle, "-C", into.toString()).redirectErrorStream(true).start();
        String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(tar.waitFor(2, TimeUnit.MINUTES) && tar.exitValue() == 0, "tar -xzf " + bundle + ": " + output);
        try (Stream<Path> top = Files.list(into)) {
            List<Path> entries = top.toList();
            assertEquals(1, entries.size(), "one top-level directory in " + bundle + ": " + entries);
            return entries.get(0);
        }
    }

    private Process start(Path cwd, Map<String, String> env, Path log, String... command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process = builder.start();
        processes.add(process);
        return process;
    }

    /** Runs the bundle's operator CLI and returns what it printed on standard output. */
    private String cli(Path coordinatorHome, Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(coordinatorHome.resolve("bin/fedprune").toString()));
        command.addAll(List.of(args));
        Path err = Files.createTempFile(dir, "cli", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(err.toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process = builder.start();
        processes.add(process);
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(1, TimeUnit.MINUTES), "fedprune " + String.join(" ", args) + " did not end");
        assertEquals(0, process.exitValue(), "fedprune " + String.join(" ", args) + ": " + out + Files.readString(err));
        return out;
    }

    /** The launcher execs Java in its own process: waits for that and returns the executable it runs. */
    private static Path awaitExec(Process process) throws Exception {
        long end = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < end) {
            Optional<String> command = process.info().command();
            if (command.isPresent() && command.get().endsWith("/java")) {
                return Path.of(command.get()).toRealPath();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the launcher did not exec java: " + process.info());
    }

    private void awaitHealthy(Process coordinator, Path log) throws Exception {
        long end = System.currentTimeMillis() + 180_000;
        while (System.currentTimeMillis() < end) {
            if (!coordinator.isAlive()) {
                throw new AssertionError("the coordinator exited with " + coordinator.exitValue() + ":\n" + tail(log));
            }
            try {
                if (get("/actuator/health").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the coordinator was not healthy after 180 s:\n" + tail(log));
    }

    private JsonNode awaitFinal(String jobId, Process coordinator, Process agent, Path coordinatorLog, Path agentLog) throws Exception {
        long end = System.currentTimeMillis() + JOBS_TIMEOUT.toMillis();
        JsonNode job = null;
        while (System.currentTimeMillis() < end) {
            HttpResponse<String> r = get("/api/jobs/" + jobId);
            assertEquals(200, r.statusCode(), r.body());
            job = JSON.readTree(r.body());
            String state = job.get("state").asString();
            if (state.equals("COMPLETED") || state.equals("FAILED") || state.equals("CANCELLED")) {
                return job;
            }
            if (!coordinator.isAlive()) {
                throw new AssertionError("the coordinator died during job " + jobId + ":\n" + tail(coordinatorLog));
            }
            if (!agent.isAlive()) {
                throw new AssertionError("the agent exited with " + agent.exitValue() + " while job " + jobId + " was " + state + ":\n"
                        + tail(agentLog) + "\n" + job);
            }
            Thread.sleep(250);
        }
        throw new AssertionError("job " + jobId + " not finished after " + JOBS_TIMEOUT + ": " + job + "\nagent:\n" + tail(agentLog)
                + "\ncoordinator:\n" + tail(coordinatorLog));
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + ADMIN_TOKEN).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int completedJobsIn(TestDatabase database) throws SQLException {
        try (Connection c = DriverManager.getConnection(database.url(), database.user(), database.password());
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("select count(*) from jobs where state = 'COMPLETED'")) {
            r.next();
            return r.getInt(1);
        }
    }

    /** Token-id JSONL, one sample of {@code length} ids below {@code vocab} per line. */
    private static Path writeTokens(Path file, int vocab, int samples, int length) throws IOException {
        SplittableRandom random = new SplittableRandom(5);
        StringBuilder jsonl = new StringBuilder();
        for (int s = 0; s < samples; s++) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < length; i++) {
                ids.add(Integer.toString(random.nextInt(vocab)));
            }
            jsonl.append("{\"ids\":[").append(String.join(",", ids)).append("]}\n");
        }
        Files.createDirectories(file.getParent());
        return Files.writeString(file, jsonl);
    }

    private static String replaceOnce(String text, String from, String to) {
        int at = text.indexOf(from);
        assertTrue(at >= 0 && text.indexOf(from, at + 1) < 0, "conf/application.yml no longer holds exactly one '" + from + "'");
        return text.replace(from, to);
    }

    private static String tail(Path log) {
        return ChildProcesses.tail(log, 60);
    }
}
