package dev.fedprune.coordinator.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobEvent;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.coordinator.store.Records.UploadRecord;
import dev.fedprune.coordinator.store.SecurityStore.AgentCertificate;
import dev.fedprune.coordinator.store.SecurityStore.ApiToken;
import dev.fedprune.coordinator.store.SecurityStore.AuditEntry;
import dev.fedprune.coordinator.store.SecurityStore.EnrollmentToken;
import dev.fedprune.coordinator.store.SecurityStore.Operator;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every table of the migrated schema, written and read back through the stores on each database the
 * coordinator supports: nulls stay null, times beyond 32 bits and long texts come back exactly, the
 * update-or-insert writes, orderings, sums and the duplicate-nonce refusal behave the same.
 */
class StoreRoundTripTest {
    /** A time after 2038, so that a 32-bit column or parameter would be caught. */
    static final long T = 4_102_444_800_123L;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void coordinatorTablesRoundTrip(TestDatabase.Kind kind) throws Exception {
        try (TestDatabase database = TestDatabase.create(kind, dir); HikariDataSource db = database.open()) {
            CoordinatorStore store = new CoordinatorStore(db);

            // agents: nullable columns, coalesce on heartbeat
            AgentRecord bob = new AgentRecord("agent-b", "bob", null, null, null, T, T, "ONLINE", null);
            AgentRecord alice = new AgentRecord("agent-a", "alice", "hospital-a", "ab".repeat(32), "{\"cpuCores\":4}", T, T + 1, "ONLINE", null);
            store.insertAgent(bob);
            store.insertAgent(alice);
            assertEquals(Optional.of(bob), store.agent("agent-b"));
            assertEquals(List.of(alice, bob), store.agents(), "by name");
            store.heartbeat("agent-a", T + 2, "BUSY", "task-1", null);
            assertEquals(new AgentRecord("agent-a", "alice", "hospital-a", "ab".repeat(32), "{\"cpuCores\":4}", T, T + 2, "BUSY", "task-1"),
                    store.agent("agent-a").orElseThrow(), "a heartbeat without resources keeps them");
            store.heartbeat("agent-a", T + 3, "ONLINE", null, "{\"cpuCores\":8}");
            assertEquals(new AgentRecord("agent-a", "alice", "hospital-a", "ab".repeat(32), "{\"cpuCores\":8}", T, T + 3, "ONLINE", null),
                    store.agent("agent-a").orElseThrow());
            assertEquals(Optional.empty(), store.agent("nobody"));

            // jobs: a spec far longer than any varchar, with characters outside Latin-1
            String spec = "{\"name\":\"große Prüfung – 剪枝 ✓\",\"padding\":\"" + "x".repeat(200_000) + "\"}";
            JobRecord job = new JobRecord("job-1", "große Prüfung", spec, "CREATED", 0, 0, null, null, T, T);
            JobRecord later = new JobRecord("job-0", "later", "{}", "CREATED", 0, 0, null, null, T + 10, T + 10);
            store.insertJob(later);
            store.insertJob(job);
            assertEquals(Optional.of(job), store.job("job-1"));
            assertEquals(List.of("job-1", "job-0"), store.jobs().stream().map(JobRecord::id).toList(), "by creation time");
            store.setTotalRounds("job-1", 3);
            store.updateJob("job-1", "FAILED", 2, "deadline: round 2 missed its quorum", "/data/jobs/job-1/result", T + 5);
            assertEquals(new JobRecord("job-1", "große Prüfung", spec, "FAILED", 2, 3, "deadline: round 2 missed its quorum", "/data/jobs/job-1/result", T, T + 5),
                    store.job("job-1").orElseThrow());
            store.updateJob("job-1", "RUNNING", 2, null, null, T + 6);
            assertEquals(null, store.job("job-1").orElseThrow().failureReason(), "set back to null");

            // job events: the identity column keeps insertion order, whatever the times
            store.addEvent("job-1", T + 9, "second clock, first event");
            store.addEvent("job-1", T, "first clock, second event");
            store.addEvent("job-0", T, "other job");
            assertEquals(List.of(new JobEvent(T + 9, "second clock, first event"), new JobEvent(T, "first clock, second event")), store.events("job-1"));

            // rounds: null closed_at, then closed with a summary
            RoundRecord open = new RoundRecord("job-1", 0, "OPEN", T, T + 600_000, null, 2, 2, 0, 0, null, 1);
            RoundRecord second = new RoundRecord("job-1", 1, "OPEN", T + 1, T + 600_001, null, 2, 1, 0, 0, null, 2);
            store.insertRound(second);
            store.insertRound(open);
            assertEquals(Optional.of(open), store.round("job-1", 0));
            assertEquals(List.of(open, second), store.rounds("job-1"));
            String summary = "{\"quality\":{\"metric\":\"perplexity\",\"value\":5.33}," + "\"pad\":\"" + "y".repeat(50_000) + "\"}";
            store.updateRound("job-1", 0, "AGGREGATED", T + 7, 2, 1, summary);
            assertEquals(new RoundRecord("job-1", 0, "AGGREGATED", T, T + 600_000, T + 7, 2, 2, 2, 1, summary, 1), store.round("job-1", 0).orElseThrow());
            assertEquals(2, store.roundCount(null));
            assertEquals(1, store.roundCount("OPEN"));
            assertEquals(0, store.roundCount("FAILED"));

            // tasks: nullable times and counts, the open-task lookup, pull/finish/reissue/expire
            TaskRecord t1 = new TaskRecord("task-1", "job-1", 0, "agent-a", "MASK", "ASSIGNED", T, null, null, 0, null, null, null, 1);
            TaskRecord t2 = new TaskRecord("task-2", "job-1", 0, "agent-b", "MASK", "ASSIGNED", T, null, null, 0, null, null, null, 1);
            TaskRecord t3 = new TaskRecord("task-3", "job-1", 1, "agent-a", "MASK", "ASSIGNED", T + 1, null, null, 0, null, null, null, 2);
            store.insertTask(t3);
            store.insertTask(t2);
            store.insertTask(t1);
            assertEquals(Optional.of(t1), store.task("task-1"));
            assertEquals(List.of(t1, t2), store.tasks("job-1", 0));
            assertEquals(List.of(t1, t2, t3), store.tasksOfJob("job-1"));
            assertEquals(Optional.of(t1), store.openTaskOf("agent-a"), "the oldest open task");
            store.markTaskPulled("task-1", T + 2);
            store.markTaskPulled("task-1", T + 3);
            assertEquals(Long.valueOf(T + 2), store.task("task-1").orElseThrow().pulledAt(), "the first pull counts");
            long bigUpload = 3_000_000_000L;
            store.finishTask("task-1", "FOLDED", T + 4, bigUpload, "cd".repeat(32), 1_234L, null);
            assertEquals(new TaskRecord("task-1", "job-1", 0, "agent-a", "MASK", "FOLDED", T, T + 2, T + 4, bigUpload, "cd".repeat(32), 1_234L, null, 1),
                    store.task("task-1").orElseThrow());
            assertEquals(Optional.of(t3), store.openTaskOf("agent-a"));
            store.finishTask("task-2", "FOLDED", T + 4, bigUpload, "ef".repeat(32), null, null);
            assertEquals(2 * bigUpload, store.totalBytesUp(), "a sum beyond 32 bits");

            // uploads: insert, then update in place
            UploadRecord upload = new UploadRecord("task-3-up", "task-3", "agent-a", 0, 5_000_000_000L, "OPEN");
            store.saveUpload(upload, T);
            assertEquals(Optional.of(upload), store.upload("task-3-up"));
            store.saveUpload(new UploadRecord("task-3-up", "task-3", "agent-a", 4_000_000_000L, 5_000_000_000L, "OPEN"), T + 1);
            assertEquals(4_000_000_000L, store.upload("task-3-up").orElseThrow().committedBytes());
            assertEquals(Optional.empty(), store.upload("nothing"));

            // task metrics: insert, then update in place; doubles come back exactly
            store.saveMetrics("task-1", Map.of("model_bytes_down", 123_456.0, "perplexity", 5.329_847_123_456_789), T);
            store.saveMetrics("task-1", Map.of("perplexity", 4.86), T + 1);
            store.saveMetrics("task-2", Map.of("model_bytes_down", 0.5), T + 1);
            assertEquals(Map.of("model_bytes_down", 123_456.0, "perplexity", 4.86), store.metrics("task-1"));
            assertEquals(123_456.5, store.metricTotal("model_bytes_down"));
            assertEquals(0.0, store.metricTotal("unknown"));

            // reissue forgets the payload and the uploads; expiry closes what is open
            store.finishTask("task-3", "FOLDED", T + 5, 10, "00".repeat(32), 7L, null);
            store.reissueTask("task-3", "stored contribution corrupt");
            assertEquals(new TaskRecord("task-3", "job-1", 1, "agent-a", "MASK", "ASSIGNED", T + 1, null, null, 0, null, null, "stored contribution corrupt", 2),
                    store.task("task-3").orElseThrow());
            assertEquals(Optional.empty(), store.upload("task-3-up"));
            store.expireOpenTasks("job-1", 0, T + 6, "deadline");
            assertEquals("ASSIGNED", store.task("task-3").orElseThrow().state(), "another round");
            store.expireOpenTasksOfJob("job-1", T + 7, "job cancelled");
            TaskRecord expired = store.task("task-3").orElseThrow();
            assertEquals(List.of("EXPIRED", T + 7, "job cancelled"), List.of(expired.state(), expired.finishedAt(), expired.error()));
            assertEquals("FOLDED", store.task("task-1").orElseThrow().state(), "finished tasks stay as they are");

            store.insertTask(new TaskRecord("task-4", "job-1", 1, "agent-b", "MASK", "REFUSED", T, null, T, 0, null, null, "sparsity: 0.2, wanted 0.5", 1));
            store.insertTask(new TaskRecord("task-5", "job-1", 1, "agent-b", "MASK", "REFUSED", T, null, T, 0, null, null, null, 1));
            assertEquals(Map.of("EXPIRED", 1L, "FOLDED", 2L, "REFUSED", 2L), store.taskCountsByState());
            assertEquals(Map.of("sparsity", 1L, "unknown", 1L), store.refusalsByReason());
        }
    }

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void securityTablesRoundTrip(TestDatabase.Kind kind) throws Exception {
        try (TestDatabase database = TestDatabase.create(kind, dir); HikariDataSource db = database.open()) {
            CoordinatorStore store = new CoordinatorStore(db);
            SecurityStore security = new SecurityStore(db);

            // enrollment tokens: consumed once, never when expired
            security.insertEnrollmentToken("tok-1", "11".repeat(32), "hospital-a", "admin", T, T + 60_000);
            security.insertEnrollmentToken("tok-2", "22".repeat(32), null, "admin", T + 1, T + 10);
            assertEquals(Optional.of(new EnrollmentToken("tok-1", "hospital-a", "admin", T, T + 60_000, null, null)),
                    security.enrollmentTokenByHash("11".repeat(32)));
            assertFalse(security.consumeEnrollmentToken("22".repeat(32), "agent-x", T + 10), "expired");
            assertTrue(security.consumeEnrollmentToken("11".repeat(32), "agent-a", T + 5));
            assertFalse(security.consumeEnrollmentToken("11".repeat(32), "agent-b", T + 6), "used");
            assertFalse(security.consumeEnrollmentToken("33".repeat(32), "agent-b", T + 6), "unknown");
            assertEquals(List.of(new EnrollmentToken("tok-2", null, "admin", T + 1, T + 10, null, null),
                    new EnrollmentToken("tok-1", "hospital-a", "admin", T, T + 60_000, T + 5, "agent-a")), security.enrollmentTokens(), "newest first");

            // certificates and revocation (which writes the agents table)
            store.insertAgent(new AgentRecord("agent-a", "alice", "hospital-a", null, null, T, T, "ONLINE", "task-9"));
            AgentCertificate cert = new AgentCertificate("0a1b2c", "agent-a", "44".repeat(32), T, T + 3_600_000, "ENROLL");
            security.insertCertificate(cert);
            assertEquals(Optional.of(cert), security.certificate("0a1b2c"));
            assertEquals(Optional.empty(), security.revocation("agent-a"));
            security.revokeAgent("agent-a", T + 8, "key lost");
            security.revokeAgent("agent-a", T + 9, "again");
            assertEquals(Optional.of(new SecurityStore.Revocation(T + 8, "key lost")), security.revocation("agent-a"), "the first revocation stays");
            assertEquals(new AgentRecord("agent-a", "alice", "hospital-a", null, null, T, 0, "REVOKED", null), store.agent("agent-a").orElseThrow());

            // nonces: a second use is refused, by the primary key, and the store goes on working
            assertTrue(security.recordFirstUse("agent-a", "n-1", "c".repeat(300), T));
            assertFalse(security.recordFirstUse("agent-a", "n-1", "task-1", T + 1));
            assertTrue(security.recordFirstUse("agent-b", "n-1", "task-1", T + 1), "nonces are per agent");
            assertTrue(security.wasUsed("agent-a", "n-1"));
            assertFalse(security.wasUsed("agent-a", "n-2"));

            // audit log: newest first, filtered, clipped
            security.audit(T, "ENROLL", "OK", "a".repeat(250), "agent-a", null);
            security.audit(T, "LOGIN", "DENIED", null, null, "bad password");
            security.audit(T + 1, "ENROLL", "DENIED", "admin", "agent-b", "token used");
            List<AuditEntry> all = security.auditEntries(10, null);
            assertEquals(List.of("ENROLL", "LOGIN", "ENROLL"), all.stream().map(AuditEntry::event).toList());
            assertTrue(all.get(0).id() > all.get(1).id() && all.get(1).id() > all.get(2).id(), all.toString());
            assertEquals(200, all.get(2).actor().length());
            assertEquals(List.of("token used"), security.auditEntries(1, "ENROLL").stream().map(AuditEntry::detail).toList());

            // operators: coalesce keeps what an update leaves out; disabled_at can go back to null
            Operator admin = new Operator("admin", "$argon2id$v=19$m=65536,t=3,p=1$" + "h".repeat(200), "ADMIN", T, null);
            security.insertOperator(admin);
            security.insertOperator(new Operator("viewer", "x", "VIEWER", T + 1, T + 2));
            assertEquals(Optional.of(admin), security.operator("admin"));
            security.updateOperator("admin", null, "VIEWER", T + 3);
            assertEquals(new Operator("admin", admin.passwordHash(), "VIEWER", T, T + 3), security.operator("admin").orElseThrow());
            security.updateOperator("admin", "new-hash", null, null);
            assertEquals(new Operator("admin", "new-hash", "VIEWER", T, null), security.operator("admin").orElseThrow());
            assertEquals(List.of("admin", "viewer"), security.operators().stream().map(Operator::username).toList());

            // API tokens
            security.insertApiToken("api-1", "55".repeat(32), "admin", "ops", "ADMIN", T, null);
            security.insertApiToken("api-2", "66".repeat(32), "viewer", "grafana", "VIEWER", T + 1, T + 86_400_000);
            assertEquals(Optional.of(new ApiToken("api-1", "admin", "ops", "ADMIN", T, null, null, null)), security.apiTokenByHash("55".repeat(32)));
            security.touchApiToken("api-1", T + 4);
            security.revokeApiToken("api-1", T + 5);
            security.revokeApiToken("api-1", T + 6);
            assertEquals(new ApiToken("api-1", "admin", "ops", "ADMIN", T, null, T + 5, T + 4), security.apiTokenByHash("55".repeat(32)).orElseThrow());
            assertEquals(List.of("api-1", "api-2"), security.apiTokens(null).stream().map(ApiToken::id).toList());
            assertEquals(List.of(new ApiToken("api-2", "viewer", "grafana", "VIEWER", T + 1, T + 86_400_000, null, null)), security.apiTokens("viewer"));
        }
    }
}
