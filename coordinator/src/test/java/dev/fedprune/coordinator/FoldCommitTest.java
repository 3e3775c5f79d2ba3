package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.round.EngineListener;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import dev.fedprune.proto.v1.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A contribution is folded in one transaction with what the caller commits beside it (the nonce
 * spent, the upload complete): when that commit fails, nothing of it is stored, no event tells of it,
 * and the round in memory is folded again from what is stored, so the job still ends with the mask
 * of the contributions the store holds, bit for bit.
 */
class FoldCommitTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void aFoldWhoseCommitFailsLeavesNoTraceInTheStoreOrInTheGlobalMask(TestDatabase.Kind kind) throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 16, 32, 2, 1, 20, 16, true, DType.F32), 5);
        String spec = "{\"name\": \"fold-commit\", \"model\": \"" + model + "\", \"localPruner\": \"magnitude\", \"sparsity\": 0.5,"
                + " \"agentsPerRound\": 2, \"deadlineSeconds\": 600, \"seed\": 4}";
        byte[] clean = globalMask(kind, dir.resolve("clean"), spec, false);
        byte[] afterFailedCommit = globalMask(kind, dir.resolve("failed-commit"), spec, true);
        assertArrayEquals(clean, afterFailedCommit, "a fold whose commit failed still counts in the global mask");
    }

    private byte[] globalMask(TestDatabase.Kind kind, Path data, String spec, boolean failFirstCommit) throws Exception {
        try (TestDatabase database = TestDatabase.create(kind, data); HikariDataSource db = database.open()) {
            CoordinatorStore store = new CoordinatorStore(db);
            AgentRegistry agents = new AgentRegistry(store, System::currentTimeMillis, 60_000);
            RoundEngine engine = new RoundEngine(store, agents, new ArtifactStore(data.resolve("artifacts")), data,
                    System::currentTimeMillis, EngineListener.NONE);
            AgentRecord alice = agents.register(AgentRegistry.newAgentId(), "alice", "site", null);
            AgentRecord bob = agents.register(AgentRegistry.newAgentId(), "bob", "site", null);
            String jobId = engine.submit(JobSpecParser.parse(spec));
            engine.pullTask(alice);
            engine.pullTask(bob);
            engine.tick(); // loads the model
            engine.tick(); // opens the round for both
            Task aliceTask = engine.pullTask(alice).getTask();
            Task bobTask = engine.pullTask(bob).getTask();
            byte[] fromAlice = CoordinatorKillNineTest.mask(aliceTask, "alice");
            byte[] fromBob = CoordinatorKillNineTest.mask(bobTask, "bob");
            // bob first, so that alice's failed fold is undone in a round that already holds a contribution
            engine.acceptContribution(bob, bobTask.getTaskId(), staged(data, fromBob), Digests.sha256Hex(fromBob), () -> { });

            if (failFirstCommit) {
                AtomicBoolean nonceWritten = new AtomicBoolean();
                IllegalStateException failed = assertThrows(IllegalStateException.class, () -> engine.acceptContribution(alice,
                        aliceTask.getTaskId(), staged(data, fromAlice), Digests.sha256Hex(fromAlice), () -> {
                            store.saveUpload(new dev.fedprune.coordinator.store.Records.UploadRecord("alice-upload", aliceTask.getTaskId(),
                                    alice.id(), fromAlice.length, fromAlice.length, "COMPLETE"), 1L);
                            nonceWritten.set(true);
                            throw new IllegalStateException("nonce store unavailable");
                        }));
                assertEquals("nonce store unavailable", failed.getMessage());
                assertTrue(nonceWritten.get());
                assertNotEquals("FOLDED", store.task(aliceTask.getTaskId()).orElseThrow().state(), "the task of a failed commit is not folded");
                assertTrue(store.upload("alice-upload").isEmpty(), "the caller's writes in the failed commit are rolled back");
                assertTrue(store.events(jobId).stream().noneMatch(e -> e.message().contains("folded alice")), store.events(jobId).toString());
            }
            engine.acceptContribution(alice, aliceTask.getTaskId(), staged(data, fromAlice), Digests.sha256Hex(fromAlice), () -> { });
            engine.tick(); // both answered: aggregates
            JobRecord job = store.job(jobId).orElseThrow();
            assertEquals("COMPLETED", job.state(), job.failureReason() + " " + store.events(jobId));
            engine.close();
            return Files.readAllBytes(Path.of(job.resultDir()).resolve("global-mask.safetensors"));
        }
    }

    /** An upload as the service leaves it for the engine: a complete file in the staging directory. */
    static Path staged(Path data, byte[] payload) throws java.io.IOException {
        Path dir = Files.createDirectories(data.resolve("test-staging"));
        return Files.write(Files.createTempFile(dir, "upload", ".part"), payload);
    }
}
