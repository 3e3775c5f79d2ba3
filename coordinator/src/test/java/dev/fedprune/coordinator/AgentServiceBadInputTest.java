package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.TlsChannels;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.HeartbeatRequest;
import dev.fedprune.proto.v1.MetricsReport;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.ContributionHeader;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TensorMask;
import dev.fedprune.proto.v1.UploadReceipt;
import dev.fedprune.proto.v1.UploadStatusRequest;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad input on the agent service gets a precise status and changes nothing accepted.
 * Raw stubs speak mutual TLS as the enrolled agents alice and bob; uploads are signed like the agent's.
 */
class AgentServiceBadInputTest {
    @TempDir
    Path dir;
    Federation fed;
    ManagedChannel channel;
    ManagedChannel bobChannel;
    CoordinatorClient alice;
    CoordinatorClient bob;
    String jobId;

    @BeforeEach
    void start() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        fed = new Federation(dir.resolve("coord"));
        alice = fed.enrolledClient("alice");
        bob = fed.enrolledClient("bob");
        jobId = fed.node.engine().submit(JobSpecParser.parse(Federation.twoAgentMaskJob(model)));
        channel = mutualTls(fed.target(), alice.identity());
        bobChannel = mutualTls(fed.target(), bob.identity());
    }

    static ManagedChannel mutualTls(String target, AgentIdentity who) {
        return TlsChannels.mutualTls(target, PinnedCaTrustManager.forCertificate(who.caCertificate(), Clock.systemUTC()),
                who.privateKey(), who.certificate());
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        bobChannel.shutdownNow();
        alice.close();
        bob.close();
        fed.close();
    }

    static Task awaitTask(CoordinatorClient client) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            var r = client.pullTask();
            if (r.hasTask()) {
                return r.getTask();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no task");
    }

    static byte[] payload(Task task, long lengthDelta, String tensorOverride) {
        MaskSet.Builder set = MaskSet.newBuilder();
        for (String name : task.getPrune().getTensorNamesList()) {
            long n = task.getModel().getTensorsList().stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow()
                    .getShapeList().stream().reduce(1L, (a, b) -> a * b);
            BitMask mask = new BitMask(n + lengthDelta);
            for (long i = 0; i < mask.length() / 2; i++) {
                mask.set(i);
            }
            set.addMasks(TensorMask.newBuilder().setTensorName(tensorOverride != null && set.getMasksCount() == 0 ? tensorOverride : name)
                    .setNumWeights(mask.length()).setEncoding(MaskEncoding.MASK_ENCODING_BITPACKED).setData(ByteString.copyFrom(mask.toBytes())));
        }
        return Contribution.newBuilder().setTaskId(task.getTaskId()).setSampleCount(1).setMasks(set).build().toByteArray();
    }

    /** Sends the chunks over alice's connection and returns the receipt or the status the coordinator answered with. */
    UploadReceipt send(List<ContributionChunk> chunks) throws Exception {
        return send(channel, chunks);
    }

    static UploadReceipt send(ManagedChannel over, List<ContributionChunk> chunks) throws Exception {
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        StreamObserver<ContributionChunk> stream = AgentServiceGrpc.newStub(over).uploadContribution(new StreamObserver<>() {
            public void onNext(UploadReceipt v) {
                result.complete(v);
            }

            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            public void onCompleted() {
            }
        });
        chunks.forEach(stream::onNext);
        stream.onCompleted();
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    /** The chunks an agent sends: a fresh nonce in the header, the signature over the statement on the last chunk. */
    static List<ContributionChunk> chunks(AgentIdentity who, Task task, String uploadId, byte[] payload, int chunkSize) {
        String nonce = ReplayGuard.newNonce();
        byte[] signature = Signatures.sign(who.privateKey(), Statements.contribution(task.getJobId(), task.getRoundIndex(), task.getTaskId(),
                who.agentId(), Digests.sha256Hex(payload), nonce));
        List<ContributionChunk> out = new ArrayList<>();
        for (int off = 0; off < payload.length; off += chunkSize) {
            int n = Math.min(chunkSize, payload.length - off);
            ContributionChunk.Builder c = ContributionChunk.newBuilder().setUploadId(uploadId).setOffset(off)
                    .setData(ByteString.copyFrom(payload, off, n)).setChunkSha256(Digests.sha256Hex(payload, off, n));
            if (off == 0) {
                c.setHeader(ContributionHeader.newBuilder().setTaskId(task.getTaskId()).setJobId(task.getJobId())
                        .setRoundIndex(task.getRoundIndex()).setNonce(nonce).setTotalSizeBytes(payload.length));
            }
            if (off + n == payload.length) {
                c.setLast(true).setTotalSha256(Digests.sha256Hex(payload)).setSignature(com.google.protobuf.ByteString.copyFrom(signature));
            }
            out.add(c.build());
        }
        return out;
    }

    static StatusRuntimeException status(Exception e) {
        assertTrue(e instanceof StatusRuntimeException, () -> "expected a gRPC status, got " + e);
        return (StatusRuntimeException) e;
    }

    void assertRefused(Status.Code code, String fragment, List<ContributionChunk> chunks) {
        assertRefused(channel, code, fragment, chunks);
    }

    static void assertRefused(ManagedChannel over, Status.Code code, String fragment, List<ContributionChunk> chunks) {
        StatusRuntimeException e = status(assertThrows(Exception.class, () -> send(over, chunks)));
        assertEquals(code, e.getStatus().getCode(), e.getStatus().getDescription());
        assertTrue(e.getStatus().getDescription().contains(fragment), () -> e.getStatus().getDescription() + " should mention " + fragment);
    }

    long foldedTasks() {
        return fed.node.store().tasksOfJob(jobId).stream().filter(t -> t.state().equals("FOLDED")).count();
    }

    @Test
    void rejectsUnknownTask() throws Exception {
        Task task = awaitTask(alice);
        Task ghost = task.toBuilder().setTaskId("task-does-not-exist").build();
        assertRefused(Status.Code.NOT_FOUND, "task-does-not-exist", chunks(alice.identity(), ghost, "u1", payload(task, 0, null), 64));
    }

    @Test
    void rejectsUploadSignedByAnotherAgentsKey() throws Exception {
        Task task = awaitTask(alice);
        // Over alice's connection, signed as bob would sign: identity comes from the certificate, and the signature must match it.
        AgentIdentity forger = new AgentIdentity(fed.target(), alice.identity().agentId(), bob.identity().privateKey(), bob.identity().certificate(),
                bob.identity().caCertificate(), bob.identity().signingCertificate(), 1);
        assertRefused(Status.Code.PERMISSION_DENIED, "does not verify", chunks(forger, task, "u1", payload(task, 0, null), 64));
        assertEquals(0, foldedTasks());
    }

    @Test
    void rejectsTaskOfAnotherAgent() throws Exception {
        Task task = awaitTask(alice);
        assertRefused(bobChannel, Status.Code.PERMISSION_DENIED, "another agent", chunks(bob.identity(), task, "u1", payload(task, 0, null), 64));
    }

    @Test
    void rejectsChunkOutOfOrderAndKeepsCommittedPrefix() throws Exception {
        Task task = awaitTask(alice);
        List<ContributionChunk> c = chunks(alice.identity(), task, "u-order", payload(task, 0, null), 32);
        List<ContributionChunk> swapped = new ArrayList<>(List.of(c.get(0), c.get(2), c.get(1)));
        assertRefused(Status.Code.INVALID_ARGUMENT, "offset", swapped);
        var upload = AgentServiceGrpc.newBlockingStub(channel).getUploadStatus(UploadStatusRequest.newBuilder()
                .setUploadId("u-order").build());
        assertEquals(32, upload.getCommittedBytes());
        assertEquals(0, foldedTasks());
    }

    @Test
    void rejectsChunkWithWrongHash() throws Exception {
        Task task = awaitTask(alice);
        List<ContributionChunk> c = new ArrayList<>(chunks(alice.identity(), task, "u-hash", payload(task, 0, null), 32));
        c.set(1, c.get(1).toBuilder().setChunkSha256(Digests.sha256Hex(new byte[] {1})).build());
        assertRefused(Status.Code.INVALID_ARGUMENT, "chunk_sha256", c);
        assertEquals(0, foldedTasks());
    }

    @Test
    void rejectsMaskOfWrongLengthAndFoldsNothing() throws Exception {
        Task task = awaitTask(alice);
        assertRefused(Status.Code.INVALID_ARGUMENT, "num_weights", chunks(alice.identity(), task, "u-len", payload(task, 8, null), 1 << 20));
        assertEquals(0, foldedTasks());
        assertEquals("REFUSED", fed.node.store().task(task.getTaskId()).orElseThrow().state());
    }

    @Test
    void rejectsUnknownTensorName() throws Exception {
        Task task = awaitTask(alice);
        assertRefused(Status.Code.INVALID_ARGUMENT, "model.layers.9.mlp.up_proj.weight",
                chunks(alice.identity(), task, "u-name", payload(task, 0, "model.layers.9.mlp.up_proj.weight"), 1 << 20));
        assertEquals(0, foldedTasks());
    }

    @Test
    void rejectsContributionForClosedRoundAndResumesInterruptedUpload() throws Exception {
        Task aliceTask = awaitTask(alice);
        Task bobTask = awaitTask(bob);
        // Alice's upload breaks after one chunk; she asks where to resume and finishes it.
        byte[] alicePayload = payload(aliceTask, 0, null);
        List<ContributionChunk> c = chunks(alice.identity(), aliceTask, "u-resume", alicePayload, 32);
        assertRefused(Status.Code.INVALID_ARGUMENT, "without a last chunk", c.subList(0, 1));
        long committed = AgentServiceGrpc.newBlockingStub(channel).getUploadStatus(UploadStatusRequest.newBuilder()
                .setUploadId("u-resume").build()).getCommittedBytes();
        assertEquals(32, committed);
        List<ContributionChunk> rest = new ArrayList<>(c.subList(1, c.size()));
        rest.set(0, rest.get(0).toBuilder().setHeader(c.get(0).getHeader()).build());
        assertTrue(send(rest).getFolded());

        assertTrue(send(bobChannel, chunks(bob.identity(), bobTask, "u-bob", payload(bobTask, 0, null), 1 << 20)).getFolded());
        fed.awaitFinal(jobId, 30_000);
        assertEquals(2, foldedTasks());
        // The round is closed now: a second upload for the same task is refused and changes nothing.
        assertRefused(bobChannel, Status.Code.FAILED_PRECONDITION, "job " + jobId,
                chunks(bob.identity(), bobTask, "u-late", payload(bobTask, 0, null), 1 << 20));
        assertEquals(2, foldedTasks());
        assertEquals("COMPLETED", fed.node.store().job(jobId).orElseThrow().state());
    }

    @Test
    void theClientResumesAnInterruptedUploadFromItsContributionFile() throws Exception {
        Task task = awaitTask(alice);
        byte[] payload = payload(task, 0, null);
        assertRefused(Status.Code.INVALID_ARGUMENT, "without a last chunk", chunks(alice.identity(), task, "u-file", payload, 32).subList(0, 1));
        Path file = Files.write(dir.resolve("contribution.pb"), payload);
        // The client asks where to resume and reads the file from the 32 committed bytes on.
        assertTrue(alice.upload(task, "u-file", file, Digests.sha256Hex(payload)).getFolded());
        assertEquals("FOLDED", fed.node.store().task(task.getTaskId()).orElseThrow().state());
        assertEquals(payload.length, fed.node.store().upload("u-file").orElseThrow().committedBytes());
        Files.write(file, new byte[] {1, 2, 3});
        assertThrows(RuntimeException.class, () -> bob.upload(awaitTask(bob), "u-short", file, Digests.sha256Hex(payload)),
                "a file whose bytes are not those of its digest is refused");
    }

    @Test
    void pullTaskWithoutClientCertificateIsUnauthenticated() {
        ManagedChannel anonymous = TlsChannels.serverTls(fed.target(), PinnedCaTrustManager.forCertificate(alice.identity().caCertificate(), Clock.systemUTC()));
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> AgentServiceGrpc.newBlockingStub(anonymous).pullTask(PullTaskRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("no client certificate"), e.getStatus().getDescription());
        } finally {
            anonymous.shutdownNow();
        }
    }

    static StatusRuntimeException refused(Status.Code code, org.junit.jupiter.api.function.Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        return e;
    }

    @Test
    void anUploadStreamOpenedBeforeRevocationFoldsNothingWhenItCompletesAfter() throws Exception {
        Task task = awaitTask(alice);
        List<ContributionChunk> c = chunks(alice.identity(), task, "u-revoked", payload(task, 0, null), 32);
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        StreamObserver<ContributionChunk> stream = AgentServiceGrpc.newStub(channel).uploadContribution(new StreamObserver<>() {
            public void onNext(UploadReceipt v) {
                result.complete(v);
            }

            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            public void onCompleted() {
            }
        });
        stream.onNext(c.get(0));
        for (int i = 0; i < 200 && fed.node.store().upload("u-revoked").map(u -> u.committedBytes()).orElse(0L) < 32; i++) {
            Thread.sleep(25);
        }
        assertEquals(32, fed.node.store().upload("u-revoked").orElseThrow().committedBytes(), "the first chunk was taken while alice was trusted");
        fed.node.enrollment().revoke(alice.identity().agentId(), "test: key stolen", "operator");
        c.subList(1, c.size()).forEach(stream::onNext);
        stream.onCompleted();
        ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(30, TimeUnit.SECONDS));
        StatusRuntimeException status = status((Exception) e.getCause());
        assertEquals(Status.Code.UNAUTHENTICATED, status.getStatus().getCode(), status.getStatus().toString());
        assertTrue(status.getStatus().getDescription().contains("revoked"), status.getStatus().toString());
        assertEquals(0, foldedTasks());
    }

    @Test
    void aHeartbeatAboutATaskOfACancelledJobCallsTheTaskOff() throws Exception {
        Task task = awaitTask(alice);
        var stub = AgentServiceGrpc.newBlockingStub(channel);
        HeartbeatRequest busy = HeartbeatRequest.newBuilder().setState(AgentState.AGENT_STATE_BUSY).setCurrentTaskId(task.getTaskId()).build();
        assertEquals(0, stub.heartbeat(busy).getCancelledTaskIdsCount(), "an open task goes on");
        fed.node.engine().cancel(jobId);
        assertEquals("EXPIRED", fed.node.store().task(task.getTaskId()).orElseThrow().state());
        assertEquals(List.of(task.getTaskId()), stub.heartbeat(busy).getCancelledTaskIdsList());
        // and the task is no longer handed out
        assertTrue(!alice.pullTask().hasTask());
    }

    static byte[] paddedWithUnknownField(byte[] contribution, int padBytes) throws Exception {
        return Contribution.parseFrom(contribution).toBuilder().setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
                .addField(999, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFrom(new byte[padBytes])).build())
                .build()).build().toByteArray();
    }

    @Test
    void refusesContributionsLargerThanTheTaskAllowsAndUnknownFields() throws Exception {
        Task task = awaitTask(alice);
        byte[] valid = payload(task, 0, null);
        // 1 MiB of padding: more than masks of these tensors can weigh, refused from the header, nothing stored
        byte[] huge = paddedWithUnknownField(valid, 1 << 20);
        assertRefused(Status.Code.INVALID_ARGUMENT, "header.total_size_bytes", chunks(alice.identity(), task, "u-huge", huge, 1 << 20));
        assertTrue(fed.node.store().upload("u-huge").isEmpty(), "a refused header stores no upload");
        // a small unknown field within the bound is refused when the payload is read
        byte[] padded = paddedWithUnknownField(valid, 100);
        assertRefused(Status.Code.INVALID_ARGUMENT, "unknown field number(s) [999]", chunks(alice.identity(), task, "u-pad", padded, 1 << 20));
        assertEquals(0, foldedTasks());
    }

    @Test
    void uploadIdsThatSanitiseAlikeDoNotShareAStagingFileAcrossAgents() throws Exception {
        Task aliceTask = awaitTask(alice);
        Task bobTask = awaitTask(bob);
        byte[] alicePayload = payload(aliceTask, 0, null);
        List<ContributionChunk> c = chunks(alice.identity(), aliceTask, "x/y", alicePayload, 32);
        assertRefused(Status.Code.INVALID_ARGUMENT, "without a last chunk", c.subList(0, 1));
        // Bob starts an upload whose id once mapped to the same staging file name as Alice's partial one.
        assertRefused(bobChannel, Status.Code.INVALID_ARGUMENT, "without a last chunk",
                chunks(bob.identity(), bobTask, "x_y", payload(bobTask, 0, null), 32).subList(0, 1));
        // Alice's committed bytes are still hers: she resumes and her contribution folds.
        List<ContributionChunk> rest = new ArrayList<>(c.subList(1, c.size()));
        rest.set(0, rest.get(0).toBuilder().setHeader(c.get(0).getHeader()).build());
        assertTrue(send(rest).getFolded());
    }

    @Test
    void heartbeatResourcesAreStoredAsJsonWhateverCharactersTheAgentSends() throws Exception {
        var stub = AgentServiceGrpc.newBlockingStub(channel);
        stub.heartbeat(HeartbeatRequest.newBuilder().setState(AgentState.AGENT_STATE_IDLE).setResources(DeviceResources.newBuilder()
                .setCpuCores(2).setMemoryBytes(1L << 30).setAccelerator("cpu\"").setDeviceClass("a\\b \"x\" {}")).build());
        String stored = fed.node.store().agent(alice.identity().agentId()).orElseThrow().resources();
        var json = tools.jackson.databind.json.JsonMapper.builder().build().readTree(stored); // what GET /api/agents does
        assertEquals("cpu\"", json.get("accelerator").asString());
        assertEquals("a\\b \"x\" {}", json.get("deviceClass").asString());
        assertEquals(2, json.get("cpuCores").asInt());
    }

    @Test
    void refusesOversizedAndControlCharacterStringsNamingTheField() {
        var stub = AgentServiceGrpc.newBlockingStub(channel);
        String tooLong = "x".repeat(65);
        StatusRuntimeException e = refused(Status.Code.INVALID_ARGUMENT, () -> stub.heartbeat(HeartbeatRequest.newBuilder()
                .setState(AgentState.AGENT_STATE_BUSY).setCurrentTaskId(tooLong).build()));
        assertTrue(e.getStatus().getDescription().startsWith("current_task_id: expected an identifier of 1 to 64"), e.getStatus().toString());
        assertTrue(!e.getStatus().getDescription().toLowerCase(java.util.Locale.ROOT).contains("update agents")
                && !e.getStatus().getDescription().toLowerCase(java.util.Locale.ROOT).contains("database"), e.getStatus().toString());
        e = refused(Status.Code.INVALID_ARGUMENT, () -> stub.heartbeat(HeartbeatRequest.newBuilder().setResources(
                DeviceResources.newBuilder().setAccelerator("cuda:0" + "0".repeat(100))).build()));
        assertTrue(e.getStatus().getDescription().startsWith("resources.accelerator: 106 characters, at most 64"), e.getStatus().toString());
        e = refused(Status.Code.INVALID_ARGUMENT, () -> stub.heartbeat(HeartbeatRequest.newBuilder().setResources(
                DeviceResources.newBuilder().setDeviceClass("server\u0000\n")).build()));
        assertTrue(e.getStatus().getDescription().startsWith("resources.device_class: control or format character U+0000 at index 6"),
                e.getStatus().toString());
        e = refused(Status.Code.INVALID_ARGUMENT, () -> stub.reportMetrics(MetricsReport.newBuilder().setTaskId("task-1")
                .putValues("loss\u001b[31m", 1.0).build()));
        assertTrue(e.getStatus().getDescription().startsWith("values[loss\\u001B[31m]: control or format character U+001B"), e.getStatus().toString());
        // a long value is echoed bounded, not whole
        String huge = "y".repeat(100_000);
        e = refused(Status.Code.INVALID_ARGUMENT, () -> stub.reportMetrics(MetricsReport.newBuilder().setTaskId(huge).build()));
        assertTrue(e.getStatus().getDescription().length() < 1000, "description of " + e.getStatus().getDescription().length() + " characters");
        // the agent is still served, and its stored state did not change
        stub.heartbeat(HeartbeatRequest.newBuilder().setState(AgentState.AGENT_STATE_IDLE).build());
        assertEquals(null, fed.node.store().agent(alice.identity().agentId()).orElseThrow().currentTaskId());
    }

    @Test
    void internalErrorsReachTheCallerAsAReferenceNotAsTheMessage() {
        StatusRuntimeException e = dev.fedprune.coordinator.grpc.GrpcErrors.toStatus("Heartbeat",
                new IllegalStateException("database error in [update agents set current_task_id = ?]: Value too long for column"));
        assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().matches("Heartbeat: internal error, reference [0-9a-f]+"), e.getStatus().getDescription());
    }
}
