package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.ByteString;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.engine.CpuInfo;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.ImageSet;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparse.SparseTensorParts;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.DType;
import dev.fedprune.proto.v1.IndexEncoding;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Wrong arithmetic on an agent never reaches the global model: an agent whose tensor engine fails its
 * self-check computes and uploads nothing, and the coordinator refuses an update holding NaN or infinity.
 * A coordinator and agents as real gRPC peers; a small sparse CNN on 8x8 images.
 */
class WrongArithmeticTest {
    private static final String SPEC = """
            name: %s
            method: sparse_training
            variant: static_sparse
            architecture: small_vgg
            channels: [2, 4]
            imageSide: 8
            density: 0.5
            rounds: %d
            localSteps: 2
            batchSize: 8
            evaluationImages: 20
            agentsPerRound: %d
            quorum: 2
            deadlineSeconds: %d
            seed: 3
            """;

    @TempDir
    Path dir;

    @Test
    void agentWhoseEngineFailsItsSelfCheckNeverUploadsAndSaysWhichCpuAndOp() throws Exception {
        EngineSelfCheck.Report failed = new EngineSelfCheck.Report(List.of(new EngineSelfCheck.Finding("conv2d 3x3",
                "N16 C4 14x14 -> O12 k3 s1 p1", "input gradient", "value at index 17 is not finite: NaN (expected 0.73)")),
                8, CpuInfo.current(), true, 12);
        Logger loopLog = (Logger) LoggerFactory.getLogger(AgentLoop.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        loopLog.addAppender(logged);
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            // Three agents that could all train: two trust their engine (the real self-check), one was told its engine is wrong.
            for (String name : List.of("honest-0", "honest-1", "faulty")) {
                Path data = dir.resolve("data-" + name);
                writeImages(data, name.hashCode());
                AgentLoop.Options options = new AgentLoop.Options(name, data, true, 60_000, 1);
                fed.startAgent(dir.resolve("work-" + name), Map.of(), name.equals("faulty") ? options.withEngineSelfCheck(() -> failed) : options);
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(SPEC.formatted("faulty-engine", 1, 3, 20)));
            // The faulty agent's task stays open until the deadline, which then closes the round on the two others.
            await(() -> fed.node.store().round(jobId, 0).map(r -> !r.state().equals("OPEN")).orElse(false), 60_000,
                    () -> fed.node.store().events(jobId).toString());
            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals("CLOSED", round.state(), () -> fed.node.store().events(jobId).toString());
            assertEquals(2, round.folded());

            String faultyId = fed.node.store().agents().stream().filter(a -> a.name().equals("faulty")).findFirst().orElseThrow().id();
            for (TaskRecord t : fed.node.store().tasks(jobId, 0)) {
                if (t.agentId().equals(faultyId)) {
                    assertNotNull(t.pulledAt(), "the faulty agent did receive the task");
                    assertEquals("EXPIRED", t.state());
                    assertEquals("deadline passed", t.error());
                    assertEquals(0, t.bytesUp(), "bytes uploaded");
                    assertNull(t.payloadSha256(), "no contribution digest");
                    assertEquals(Map.of(AgentLoop.ENGINE_SELF_CHECK_FAILED, 1.0), fed.node.store().metrics(t.id()));
                } else {
                    assertEquals("FOLDED", t.state(), "the same setup uploads when the self-check passes");
                    assertTrue(t.bytesUp() > 0);
                }
            }

            String faultyTask = fed.node.store().tasks(jobId, 0).stream().filter(t -> t.agentId().equals(faultyId)).findFirst().orElseThrow().id();
            List<String> errors = logged.list.stream().filter(e -> e.getLevel() == Level.ERROR).map(ILoggingEvent::getFormattedMessage).toList();
            // Handed the same task several times before the deadline, the agent says so once.
            List<String> refusals = errors.stream().filter(m -> m.contains(faultyTask)).toList();
            assertEquals(1, refusals.size(), errors.toString());
            String refusal = refusals.get(0);
            assertTrue(refusal.startsWith("faulty: task " + faultyTask + " refused, nothing computed or uploaded: engine self-check failed on "
                    + CpuInfo.current().describe() + " with libtorch oneDNN on"), refusal);
            assertTrue(refusal.contains("conv2d 3x3 [N16 C4 14x14 -> O12 k3 s1 p1] input gradient: value at index 17 is not finite"), refusal);
            assertTrue(errors.stream().noneMatch(m -> m.startsWith("honest")), errors.toString());
            assertTrue(logged.list.stream().anyMatch(e -> e.getLevel() == Level.INFO
                    && e.getFormattedMessage().startsWith("honest-0: engine self-check passed on " + CpuInfo.current().describe())));
        } finally {
            loopLog.detachAppender(logged);
        }
    }

    /** Not wrong arithmetic, but the same harness: an agent stops a task the coordinator called off and uploads nothing. */
    @Test
    void anAgentStopsTrainingWhenItsJobIsCancelledAndUploadsNothing() throws Exception {
        Logger loopLog = (Logger) LoggerFactory.getLogger(AgentLoop.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        loopLog.addAppender(logged);
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            Path data = dir.resolve("data-long");
            writeImages(data, 5);
            fed.startAgent(dir.resolve("work-long"), Map.of(), new AgentLoop.Options("long", data, false, 60_000, 1));
            // A million local steps: far longer than the test; only the cancellation can end the task in time.
            String spec = SPEC.formatted("cancelled", 1, 1, 600).replace("localSteps: 2", "localSteps: 1000000").replace("quorum: 2", "quorum: 1");
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            await(() -> fed.node.store().tasks(jobId, 0).stream().anyMatch(t -> t.pulledAt() != null)
                    && fed.node.store().agents().stream().anyMatch(a -> a.state().equals("BUSY")), 60_000, () -> fed.node.store().events(jobId).toString());
            Thread.sleep(1500); // training is under way
            fed.node.engine().cancel(jobId);
            TaskRecord task = fed.node.store().tasks(jobId, 0).get(0);
            await(() -> logged.list.stream().anyMatch(e -> e.getFormattedMessage().startsWith("long: task " + task.id() + " stopped")), 20_000,
                    () -> logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList().toString());
            TaskRecord after = fed.node.store().task(task.id()).orElseThrow();
            assertEquals("EXPIRED", after.state());
            assertEquals(0, after.bytesUp());
            assertNull(after.payloadSha256());
        } finally {
            loopLog.detachAppender(logged);
        }
    }

    @Test
    void nonFiniteUpdatesAreRefusedAndTheNextGlobalModelIsTheAverageOfTheHonestOnes() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            CoordinatorClient alice = fed.enrolledClient("alice");
            CoordinatorClient bob = fed.enrolledClient("bob");
            CoordinatorClient mallory = fed.enrolledClient("mallory");
            CoordinatorClient eve = fed.enrolledClient("eve");
            String jobId = fed.node.engine().submit(JobSpecParser.parse(SPEC.formatted("non-finite", 2, 4, 300)));
            Task aliceTask = awaitTask(alice);
            assertEquals(TaskKind.TASK_KIND_SPARSE_UPDATE, aliceTask.getKind());
            Map<String, SparseTensor> global = weights(alice, aliceTask);
            String conv = "conv1.weight";
            int firstActive = global.get(conv).indices()[0];

            // The honest agents: every value moved, as training would; alice with 100 images, bob with 300.
            Map<String, SparseTensor> fromAlice = map(global, v -> v + 0.25f);
            Map<String, SparseTensor> fromBob = map(global, v -> v * -1.5f);

            Task malloryTask = awaitTask(mallory);
            StatusRuntimeException nan = assertThrows(StatusRuntimeException.class, () -> upload(mallory, malloryTask,
                    withValue(fromAlice, conv, 0, Float.NaN), 100));
            assertEquals(Status.Code.INVALID_ARGUMENT, nan.getStatus().getCode());
            assertEquals("sparse_update.tensors[conv1.weight]: value NaN at index " + firstActive + " (position 0) is not finite",
                    nan.getStatus().getDescription());
            Task eveTask = awaitTask(eve);
            StatusRuntimeException inf = assertThrows(StatusRuntimeException.class, () -> upload(eve, eveTask,
                    withValue(fromBob, "fc.bias", 3, Float.POSITIVE_INFINITY), 300));
            assertEquals(Status.Code.INVALID_ARGUMENT, inf.getStatus().getCode());
            assertEquals("sparse_update.tensors[fc.bias]: value Infinity at index 3 (position 3) is not finite", inf.getStatus().getDescription());

            upload(alice, aliceTask, fromAlice, 100);
            upload(bob, awaitTask(bob), fromBob, 300);
            await(() -> fed.node.store().round(jobId, 1).isPresent(), 30_000, () -> fed.node.store().events(jobId).toString());
            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals(2, round.folded());
            assertEquals(2, round.refused());
            assertEquals("REFUSED", fed.node.store().task(malloryTask.getTaskId()).orElseThrow().state());
            assertEquals("REFUSED", fed.node.store().task(eveTask.getTaskId()).orElseThrow().state());

            // The model of the next round, as an agent downloads it: sparse FedAvg of the two honest updates, exactly.
            Task next = awaitTask(alice);
            assertEquals(1, next.getRoundIndex());
            Map<String, SparseTensor> published = weights(alice, next);
            assertEquals(global.keySet(), published.keySet());
            for (String name : global.keySet()) {
                float[] a = fromAlice.get(name).toDense();
                float[] b = fromBob.get(name).toDense();
                float[] expected = new float[a.length];
                for (int i = 0; i < a.length; i++) {
                    expected[i] = (float) ((100.0 * a[i] + 300.0 * b[i]) / 400);
                }
                float[] actual = published.get(name).toDense();
                for (int i = 0; i < actual.length; i++) {
                    assertTrue(Float.isFinite(actual[i]), name + "[" + i + "] = " + actual[i]);
                }
                assertArrayEquals(expected, actual, name);
                assertArrayEquals(global.get(name).indices(), published.get(name).indices(), name + ": the mask did not change");
            }
        }
    }

    /** Eight by eight images of ten classes: a bright row or column per class, plus noise. */
    static void writeImages(Path directory, long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        for (FashionMnist.Split split : FashionMnist.Split.values()) {
            int count = split == FashionMnist.Split.TRAIN ? 64 : 20;
            byte[] pixels = new byte[count * 64];
            byte[] labels = new byte[count];
            for (int i = 0; i < count; i++) {
                int label = i % 10;
                labels[i] = (byte) label;
                for (int p = 0; p < 64; p++) {
                    boolean bar = label < 5 ? p / 8 == label + 1 : p % 8 == label - 4;
                    pixels[i * 64 + p] = (byte) ((bar ? 180 : 0) + random.nextInt(60));
                }
            }
            IdxWriter.write(directory, split, new LabeledImages(new ImageSet(count, 8, 8, pixels), labels, 10));
        }
    }

    private static void await(BooleanSupplier condition, long timeoutMillis, java.util.function.Supplier<String> state) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("not after " + timeoutMillis + " ms: " + state.get());
            }
            Thread.sleep(50);
        }
    }

    @Test
    void anUpdateHeavierThanTheWholeModelCanWeighIsRefusedFromItsHeader() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            CoordinatorClient alice = fed.enrolledClient("alice");
            CoordinatorClient bob = fed.enrolledClient("bob");
            String jobId = fed.node.engine().submit(JobSpecParser.parse(SPEC.formatted("oversized", 1, 2, 300)));
            Task task = awaitTask(alice);
            byte[] honest = payload(task, weights(alice, task), 100);
            // 16 MiB in an unknown field: the model (a few hundred weights) cannot weigh that much in any encoding
            byte[] padded = AgentServiceBadInputTest.paddedWithUnknownField(honest, 16 << 20);
            ManagedChannel channel = AgentServiceBadInputTest.mutualTls(fed.target(), alice.identity());
            try {
                AgentServiceBadInputTest.assertRefused(channel, Status.Code.INVALID_ARGUMENT, "header.total_size_bytes",
                        AgentServiceBadInputTest.chunks(alice.identity(), task, "u-padded", padded, 1 << 20));
            } finally {
                channel.shutdownNow();
            }
            assertTrue(fed.node.store().upload("u-padded").isEmpty(), "a refused header stores no upload");
            // the same update without the padding is within the bound and folds
            assertTrue(alice.upload(task, "u-honest", honest).getFolded());
            assertEquals("FOLDED", fed.node.store().task(task.getTaskId()).orElseThrow().state(), fed.node.store().events(jobId).toString());
        }
    }

    private static Task awaitTask(CoordinatorClient client) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            var r = client.pullTask();
            if (r.hasTask()) {
                return r.getTask();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no task");
    }

    /** The global weights the task starts from, downloaded over gRPC and decoded. */
    private Map<String, SparseTensor> weights(CoordinatorClient client, Task task) throws Exception {
        String id = task.getTraining().getWeightsArtifactId();
        Path file = dir.resolve("download-" + task.getTaskId());
        client.download(id, id.substring("sha256:".length()), file);
        Map<String, SparseTensor> out = new LinkedHashMap<>();
        for (var t : SparseUpdate.parseFrom(Files.readAllBytes(file)).getTensorsList()) {
            out.put(t.getTensorName(), SparseTensorParts.decode(t.getTensorName(), t.getShape(0), t.getNumValues(),
                    t.getIndices().toByteArray(), t.getValues().toByteArray()));
        }
        return out;
    }

    private static Map<String, SparseTensor> map(Map<String, SparseTensor> tensors, UnaryOperator<Float> f) {
        Map<String, SparseTensor> out = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            float[] v = new float[t.values().length];
            for (int i = 0; i < v.length; i++) {
                v[i] = f.apply(t.values()[i]);
            }
            out.put(name, new SparseTensor(t.size(), t.indices(), v));
        });
        return out;
    }

    private static Map<String, SparseTensor> withValue(Map<String, SparseTensor> tensors, String name, int position, float value) {
        Map<String, SparseTensor> out = new LinkedHashMap<>(tensors);
        SparseTensor t = tensors.get(name);
        float[] v = t.values().clone();
        v[position] = value;
        out.put(name, new SparseTensor(t.size(), t.indices(), v));
        return out;
    }

    private static void upload(CoordinatorClient client, Task task, Map<String, SparseTensor> update, long samples) {
        client.upload(task, task.getTaskId() + "-upload", payload(task, update, samples));
    }

    private static byte[] payload(Task task, Map<String, SparseTensor> update, long samples) {
        SparseUpdate.Builder u = SparseUpdate.newBuilder();
        update.forEach((name, t) -> u.addTensors(dev.fedprune.proto.v1.SparseTensor.newBuilder().setTensorName(name).addShape(t.size())
                .setNumValues(t.nonZeroCount()).setIndexEncoding(IndexEncoding.INDEX_ENCODING_DELTA_VARINT)
                .setIndices(ByteString.copyFrom(SparseTensorParts.indices(t))).setValueDtype(DType.DTYPE_F32)
                .setValues(ByteString.copyFrom(SparseTensorParts.values(t)))));
        byte[] payload = Contribution.newBuilder().setTaskId(task.getTaskId()).setSampleCount(samples).setSparseUpdate(u)
                .setPriorModelQuality(ModelQuality.newBuilder().setMetric("accuracy").setValue(0.1).setSamples(20)).build().toByteArray();
        return payload;
    }
}
