package dev.fedprune.coordinator.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What a restarted engine does with jobs it finds unfinished in the database. */
class RoundEngineRecoveryTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void storedSpecThatIsNoLongerValidFailsItsJobInsteadOfTheStart(TestDatabase.Kind kind) throws Exception {
        try (TestDatabase database = TestDatabase.create(kind, dir); HikariDataSource db = database.open()) {
            CoordinatorStore store = new CoordinatorStore(db);
            // A FedMef job on small_vgg stored before sapGamma existed: today its default 0.5 needs nsconv_vgg.
            String stale = "{\"name\":\"old\",\"method\":\"sparse_training\",\"variant\":\"fedmef\",\"architecture\":\"small_vgg\","
                    + "\"channels\":[4,8],\"density\":0.3,\"rounds\":4,\"extrusionLambda\":0.01,\"agentsPerRound\":2,\"seed\":1}";
            store.insertJob(new JobRecord("job-old", "old", stale, "ROUND_OPEN", 1, 5, null, null, 1L, 1L));
            String fine = "{\"name\":\"new\",\"method\":\"sparse_training\",\"variant\":\"static_sparse\",\"channels\":[4,8],"
                    + "\"density\":0.3,\"rounds\":2,\"agentsPerRound\":2,\"seed\":1}";
            store.insertJob(new JobRecord("job-new", "new", fine, "CREATED", 0, 0, null, null, 1L, 1L));

            new RoundEngine(store, new dev.fedprune.coordinator.agent.AgentRegistry(store, () -> 2L, 60_000),
                    new ArtifactStore(dir.resolve("artifacts")), dir, () -> 2L, EngineListener.NONE);

            JobRecord old = store.job("job-old").orElseThrow();
            assertEquals("FAILED", old.state());
            assertTrue(old.failureReason().contains("stored spec refused: sapGamma"), old.failureReason());
            assertEquals("CREATED", store.job("job-new").orElseThrow().state(), "the other job is still resumed");
        }
    }

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void anAttemptThatMissedItsQuorumJustBeforeTheStopIsFollowedByTheNextAttemptAfterIt(TestDatabase.Kind kind) throws Exception {
        try (TestDatabase database = TestDatabase.create(kind, dir); HikariDataSource db = database.open()) {
            CoordinatorStore store = new CoordinatorStore(db);
            for (String name : List.of("alice", "bob")) {
                store.insertAgent(new AgentRecord("agent-" + name, name, null, null, null, 1L, 2L, "IDLE", null));
            }
            String spec = "{\"name\":\"retry\",\"method\":\"sparse_training\",\"variant\":\"static_sparse\",\"channels\":[4,8],"
                    + "\"density\":0.3,\"rounds\":2,\"agentsPerRound\":2,\"seed\":1,\"roundAttempts\":3}";
            // The engine stopped after it marked attempt 1 of round 0 as missed, before it saved the job as waiting.
            store.insertJob(new JobRecord("job-retry", "retry", spec, "ROUND_OPEN", 0, 3, null, null, 1L, 1L));
            store.insertRound(new RoundRecord("job-retry", 0, "RETRYING", 1L, 1L, 1L, 2, 2, 1, 0, null, 1));
            store.insertTask(new TaskRecord("task-old", "job-retry", 0, "agent-alice", "TASK_KIND_SPARSE_UPDATE", "FOLDED", 1L, 1L, 1L, 10,
                    "00", 1L, null, 1));
            store.insertTask(new TaskRecord("task-lost", "job-retry", 0, "agent-bob", "TASK_KIND_SPARSE_UPDATE", "EXPIRED", 1L, null, 1L, 0,
                    null, null, "round failed", 1));

            RoundEngine engine = new RoundEngine(store, new AgentRegistry(store, () -> 2L, 60_000),
                    new ArtifactStore(dir.resolve("artifacts")), dir, () -> 2L, EngineListener.NONE);
            engine.tick();

            RoundRecord round = store.round("job-retry", 0).orElseThrow();
            assertEquals("OPEN", round.state());
            assertEquals(2, round.attempt());
            List<TaskRecord> second = store.tasks("job-retry", 0).stream().filter(t -> t.attempt() == 2).toList();
            assertEquals(2, second.size(), store.tasks("job-retry", 0).toString());
            assertTrue(second.stream().allMatch(t -> t.state().equals("ASSIGNED")));
            assertEquals("ROUND_OPEN", store.job("job-retry").orElseThrow().state());
        }
    }
}
