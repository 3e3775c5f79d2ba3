package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.app.CoordinatorApplication;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TensorMask;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The coordinator as its own process, killed with SIGKILL right after it acknowledged (a) a job
 * submission and (b) a contribution as folded, and started again on the same data directory: the
 * job and the folded contribution are still there, and the job ends with the same global mask, bit
 * for bit, as the same job run without interruption.
 */
class CoordinatorKillNineTest {
    static final String ADMIN_TOKEN = "kill-nine-admin-token-0123456789abcdef0123456";
    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;
    final HttpClient http = HttpClient.newHttpClient();
    Process coordinator;
    int httpPort;
    int grpcPort;
    int starts;

    @AfterEach
    void stop() throws InterruptedException {
        if (coordinator != null) {
            coordinator.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void acknowledgedJobAndFoldedContributionSurviveKillNine() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 16, 32, 2, 1, 20, 16, true, DType.F32), 7);
        String spec = """
            {"name": "kill-nine", "model": "%s", "localPruner": "magnitude", "sparsity": 0.5, "agentsPerRound": 2,
             "deadlineSeconds": 600, "seed": 11}""".formatted(model);
        Path data = dir.resolve("coordinator");
        httpPort = ChildProcesses.freePort();
        grpcPort = ChildProcesses.freePort();

        startCoordinator(data);
        String fingerprint = get("/api/security/ca").get("fingerprintSha256").asString();
        CoordinatorClient alice = enroll("alice", fingerprint);
        CoordinatorClient bob = enroll("bob", fingerprint);
        try {
            // (a) the job is acknowledged with 201, and the coordinator dies at once
            HttpResponse<String> created = call("POST", "/api/jobs", spec);
            assertEquals(201, created.statusCode(), created.body());
            killNine();
            String jobId = JSON.readTree(created.body()).get("id").asString();

            startCoordinator(data);
            HttpResponse<String> job = call("GET", "/api/jobs/" + jobId, null);
            assertEquals(200, job.statusCode(), "the acknowledged job is gone after kill -9: " + job.body());
            assertTrue(job.body().contains("submitted by admin"), job.body());

            // (b) alice's contribution is acknowledged as folded, and the coordinator dies at once
            bob.heartbeat(AgentState.AGENT_STATE_IDLE, "");
            Task aliceTask = awaitTask(alice);
            assertTrue(alice.upload(aliceTask, "alice-upload", mask(aliceTask, "alice")).getFolded());
            killNine();

            startCoordinator(data);
            JsonNode round = get("/api/jobs/" + jobId + "/rounds").get(0);
            String aliceState = null;
            for (JsonNode t : round.get("agents")) {
                if (t.get("taskId").asString().equals(aliceTask.getTaskId())) {
                    aliceState = t.get("state").asString();
                }
            }
            assertEquals("FOLDED", aliceState, "the contribution acknowledged as folded is not folded after kill -9: " + round);
            Task bobTask = awaitTask(bob);
            assertTrue(bob.upload(bobTask, "bob-upload", mask(bobTask, "bob")).getFolded());
            JsonNode finished = awaitState(jobId, "COMPLETED");
            Path interrupted = Path.of(finished.get("resultDir").asString()).resolve("global-mask.safetensors");

            assertArrayEquals(uninterruptedGlobalMask(spec), Files.readAllBytes(interrupted),
                    "the job killed twice ends with another global mask than the same job run without interruption");
        } finally {
            alice.close();
            bob.close();
        }
    }

    /** The same job and the same contributions on a coordinator that is never interrupted. */
    private byte[] uninterruptedGlobalMask(String spec) throws Exception {
        try (Federation fed = new Federation(dir.resolve("uninterrupted"))) {
            CoordinatorClient alice = fed.enrolledClient("alice");
            CoordinatorClient bob = fed.enrolledClient("bob");
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            bob.heartbeat(AgentState.AGENT_STATE_IDLE, "");
            Task aliceTask = awaitTask(alice);
            Task bobTask = awaitTask(bob);
            alice.upload(aliceTask, "alice-upload", mask(aliceTask, "alice"));
            bob.upload(bobTask, "bob-upload", mask(bobTask, "bob"));
            var record = fed.awaitFinal(jobId, 60_000);
            assertEquals("COMPLETED", record.state(), record.failureReason());
            return Files.readAllBytes(Path.of(record.resultDir()).resolve("global-mask.safetensors"));
        }
    }

    /** A mask vote that prunes exactly half of each tensor's weights, chosen by a generator seeded with the agent's name. */
    static byte[] mask(Task task, String agent) {
        Random random = new Random(agent.hashCode());
        MaskSet.Builder set = MaskSet.newBuilder();
        for (String name : task.getPrune().getTensorNamesList()) {
            long n = task.getModel().getTensorsList().stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow()
                    .getShapeList().stream().reduce(1L, (a, b) -> a * b);
            int[] order = new int[(int) n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            for (int i = order.length - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int swap = order[i];
                order[i] = order[j];
                order[j] = swap;
            }
            BitMask mask = new BitMask(n);
            for (int i = 0; i < n / 2; i++) {
                mask.set(order[i]);
            }
            set.addMasks(TensorMask.newBuilder().setTensorName(name).setNumWeights(n).setEncoding(MaskEncoding.MASK_ENCODING_BITPACKED)
                    .setData(ByteString.copyFrom(mask.toBytes())));
        }
        return Contribution.newBuilder().setTaskId(task.getTaskId()).setSampleCount(1).setMasks(set).build().toByteArray();
    }

    static Task awaitTask(CoordinatorClient client) throws InterruptedException {
        long end = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < end) {
            var r = client.pullTask();
            if (r.hasTask()) {
                return r.getTask();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no task within 60 s");
    }

    private CoordinatorClient enroll(String name, String fingerprint) throws Exception {
        HttpResponse<String> minted = call("POST", "/api/enrollment-tokens", "{\"site\": \"kill-nine\"}");
        assertEquals(201, minted.statusCode(), minted.body());
        return CoordinatorClient.enroll("127.0.0.1:" + grpcPort, JSON.readTree(minted.body()).get("token").asString(), fingerprint, name,
                "kill-nine", DeviceResources.newBuilder().setCpuCores(1).build(), CoordinatorClient.defaultRetry());
    }

    private void startCoordinator(Path data) throws Exception {
        starts++;
        Path log = dir.resolve("coordinator-" + starts + ".log");
        coordinator = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), CoordinatorApplication.class.getName(),
                "--server.port=" + httpPort, "--server.address=127.0.0.1", "--fedprune.data-dir=" + data,
                "--fedprune.grpc.port=" + grpcPort, "--fedprune.grpc.bind-address=127.0.0.1", "--fedprune.tick-millis=50",
                "--fedprune.security.keystore.password=kill-nine-keystore-password",
                "--fedprune.security.admin.password=kill-nine-admin-password", "--fedprune.security.admin.token=" + ADMIN_TOKEN))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long end = System.currentTimeMillis() + 180_000;
        while (System.currentTimeMillis() < end) {
            if (!coordinator.isAlive()) {
                throw new AssertionError("coordinator start " + starts + " exited with " + coordinator.exitValue() + ":\n" + tail(log));
            }
            try {
                if (call("GET", "/actuator/health", null).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("coordinator start " + starts + " not healthy after 180 s:\n" + tail(log));
    }

    private void killNine() throws InterruptedException {
        coordinator.destroyForcibly(); // SIGKILL: no shutdown hook, no database close
        assertTrue(coordinator.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, coordinator.exitValue(), "killed by SIGKILL");
    }

    private JsonNode awaitState(String jobId, String state) throws Exception {
        long end = System.currentTimeMillis() + 60_000;
        JsonNode job = null;
        while (System.currentTimeMillis() < end) {
            job = get("/api/jobs/" + jobId);
            if (job.get("state").asString().equals(state)) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + jobId + " not " + state + " after 60 s: " + job);
    }

    private JsonNode get(String path) throws Exception {
        HttpResponse<String> r = call("GET", path, null);
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return JSON.readTree(r.body());
    }

    private HttpResponse<String> call(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + ADMIN_TOKEN);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String tail(Path log) {
        return ChildProcesses.tail(log, 40);
    }
}
