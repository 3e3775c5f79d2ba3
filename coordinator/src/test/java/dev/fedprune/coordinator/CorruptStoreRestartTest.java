package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.artifact.CorruptArtifactException;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.Task;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The content-addressed store verifies every read: a folded contribution whose stored bytes were
 * corrupted while the coordinator was down is not re-folded at restart; its task goes back to its agent.
 */
class CorruptStoreRestartTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void aCorruptStoredContributionIsNotRefoldedAndItsTaskIsIssuedAgain(TestDatabase.Kind kind) throws Exception {
        Path coord = dir.resolve("coord");
        try (TestDatabase database = TestDatabase.create(kind, coord)) {
            Path model = dir.resolve("model");
            SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
            String jobId;
            String taskId;
            String payloadSha;
            AgentIdentity aliceIdentity;
            try (Federation fed = new Federation(coord, database)) {
                CoordinatorClient alice = fed.enrolledClient("alice");
                fed.enrolledClient("bob");
                aliceIdentity = alice.identity();
                jobId = fed.node.engine().submit(JobSpecParser.parse(Federation.twoAgentMaskJob(model)));
                Task task = AgentServiceBadInputTest.awaitTask(alice);
                byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
                alice.upload(task, task.getTaskId() + "-" + Digests.sha256Hex(payload).substring(0, 16), payload);
                TaskRecord folded = fed.node.store().task(task.getTaskId()).orElseThrow();
                assertEquals("FOLDED", folded.state());
                taskId = task.getTaskId();
                payloadSha = folded.payloadSha256();
                assertEquals(Digests.sha256Hex(payload), payloadSha);
            }

            // While the coordinator is down, 32 bytes of the stored contribution change.
            Path blob = coord.resolve("artifacts").resolve("sha256").resolve(payloadSha);
            byte[] stored = Files.readAllBytes(blob);
            for (int i = 0; i < 32; i++) {
                stored[stored.length / 2 + i - 16] ^= (byte) 0x5a;
            }
            Files.write(blob, stored);
            CorruptArtifactException direct = assertThrows(CorruptArtifactException.class,
                    () -> new ArtifactStore(coord.resolve("artifacts")).read(ArtifactStore.idOf(payloadSha)));
            assertTrue(direct.getMessage().contains(payloadSha), direct.getMessage());

            try (Federation fed = new Federation(coord, database)) {
                TaskRecord task = fed.node.store().task(taskId).orElseThrow();
                assertEquals("ASSIGNED", task.state(), task.toString());
                assertEquals(null, task.payloadSha256());
                assertTrue(task.error().contains("corrupt"), task.error());
                assertFalse(Files.exists(blob), "the corrupt blob is gone, so the agent's upload of the right bytes can be stored");
                var events = fed.node.store().events(jobId).toString();
                assertTrue(events.contains("stored contribution of alice is corrupt") && events.contains("re-folded 0 stored contributions"), events);
                // alice, with the identity she enrolled with, is handed the same task again
                ManagedChannel channel = AgentServiceBadInputTest.mutualTls(fed.target(), aliceIdentity);
                try {
                    PullTaskResponse again = AgentServiceGrpc.newBlockingStub(channel).pullTask(PullTaskRequest.getDefaultInstance());
                    assertTrue(again.hasTask(), again.toString());
                    assertEquals(taskId, again.getTask().getTaskId());
                } finally {
                    channel.shutdownNow();
                }
            }
        }
    }
}
