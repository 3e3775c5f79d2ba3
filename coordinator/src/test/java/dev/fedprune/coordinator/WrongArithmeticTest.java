package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.fedprune.agent.engine.CpuInfo;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.ImageSet;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Wrong arithmetic on an agent never reaches the global model: an agent whose tensor engine fails its
 * self-check computes and uploads nothing. A coordinator and agents as real gRPC peers; a small sparse
 * CNN on 8x8 images.
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

    /** Eight by eight images of ten classes: a bright row or column per class, plus noise. */
    private static void writeImages(Path directory, long seed) throws Exception {
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
}
