package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskFailureOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A round that misses its quorum is opened again, with a fresh selection drawn from the job's seed, the
 * round and the attempt, while the job's {@code roundAttempts} last; the job fails only after the last.
 * Raw agent clients over mutual TLS, so that who answers what is exact.
 */
class RoundAttemptsTest {
    static final JsonMapper JSON = JsonMapper.builder().build();
    @TempDir
    Path dir;
    Path model;

    @BeforeEach
    void model() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
    }

    String spec(String extra) {
        return """
            model: %s
            localPruner: magnitude
            sparsity: 0.5
            agentsPerRound: 2
            quorum: 2
            deadlineSeconds: 300
            """.formatted(model) + extra;
    }

    /** The agents the engine selects for an attempt: sorted by name, shuffled by the attempt's seeded order. */
    static Set<String> selection(List<String> names, long seed, int round, int attempt, int count) {
        List<String> order = new ArrayList<>(names);
        Collections.sort(order);
        Collections.shuffle(order, RoundEngine.selectionRandom(seed, round, attempt));
        return new TreeSet<>(order.subList(0, count));
    }

    static List<TaskRecord> awaitTasks(Federation fed, String jobId, int attempt, int count) throws InterruptedException {
        for (int i = 0; i < 400; i++) {
            List<TaskRecord> tasks = fed.node.store().tasks(jobId, 0).stream().filter(t -> t.attempt() == attempt).toList();
            if (tasks.size() >= count) {
                return tasks;
            }
            Thread.sleep(25);
        }
        throw new AssertionError("no " + count + " tasks of attempt " + attempt + ": " + fed.node.store().events(jobId));
    }

    static String name(Federation fed, String agentId) {
        return fed.node.store().agent(agentId).map(AgentRecord::name).orElseThrow();
    }

    static void contribute(CoordinatorClient client, Task task) {
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        client.upload(task, task.getTaskId() + "-ok", payload);
    }

    @Test
    void theFirstAttemptSelectsAsBeforeAndLaterAttemptsDrawAgainFromTheSameSeed() {
        for (long seed : new long[] {0, 7, -3}) {
            assertEquals(new Random(seed * 1_000_003L + 2).nextLong(), RoundEngine.selectionRandom(seed, 2, 1).nextLong(),
                    "attempt 1 keeps the selection jobs always had");
            assertEquals(RoundEngine.selectionRandom(seed, 2, 3).nextLong(), RoundEngine.selectionRandom(seed, 2, 3).nextLong());
            assertNotEquals(RoundEngine.selectionRandom(seed, 2, 1).nextLong(), RoundEngine.selectionRandom(seed, 2, 2).nextLong());
        }
    }

    @Test
    void aRoundThatMissesItsQuorumOpensAgainWithAFreshSeededSelectionAndFoldsOnlyThatAttempt() throws Exception {
        List<String> names = List.of("alice", "bob", "carol");
        long seed = 0;
        while (selection(names, seed, 0, 1, 2).equals(selection(names, seed, 0, 2, 2))) {
            seed++; // a seed whose second attempt selects other agents than its first, so that the test can tell
        }
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            Map<String, CoordinatorClient> clients = new LinkedHashMap<>();
            for (String n : names) {
                clients.put(n, fed.enrolledClient(n));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec("roundAttempts: 3\nseed: " + seed + "\n")));

            List<TaskRecord> first = awaitTasks(fed, jobId, 1, 2);
            List<String> firstAgents = first.stream().map(t -> name(fed, t.agentId())).sorted().toList();
            assertEquals(List.copyOf(selection(names, seed, 0, 1, 2)), firstAgents);
            // One contribution is refused, the other folds: every task has answered, one short of the quorum.
            CoordinatorClient refusedAgent = clients.get(firstAgents.get(0));
            Task refusedTask = AgentServiceBadInputTest.awaitTask(refusedAgent);
            StatusRuntimeException refusal = AgentServiceBadInputTest.refused(Status.Code.INVALID_ARGUMENT,
                    () -> refusedAgent.upload(refusedTask, "u-bad", AgentServiceBadInputTest.payload(refusedTask, 8, null)));
            assertTrue(refusal.getStatus().getDescription().contains("num_weights"), refusal.getStatus().toString());
            Task foldedInFirst = AgentServiceBadInputTest.awaitTask(clients.get(firstAgents.get(1)));
            contribute(clients.get(firstAgents.get(1)), foldedInFirst);

            List<TaskRecord> second = awaitTasks(fed, jobId, 2, 2);
            List<String> secondAgents = second.stream().map(t -> name(fed, t.agentId())).sorted().toList();
            assertEquals(List.copyOf(selection(names, seed, 0, 2, 2)), secondAgents);
            for (String n : secondAgents) {
                Task task = AgentServiceBadInputTest.awaitTask(clients.get(n));
                assertEquals(2, fed.node.store().task(task.getTaskId()).orElseThrow().attempt());
                contribute(clients.get(n), task);
            }
            JobRecord job = fed.awaitFinal(jobId, 30_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + events);
            assertTrue(events.contains("round 1: quorum not met, 1 of 2 contributions accepted in attempt 1 of 3; round 1 opens again "
                    + "with a fresh selection (attempt 2)"), events);
            assertTrue(events.contains("round 1/1 open (attempt 2 of 3): "), events);

            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals("CLOSED", round.state());
            assertEquals(2, round.attempt());
            assertEquals(2, round.folded(), "the contribution folded in the abandoned attempt does not count again");
            // The first attempt's tasks keep what became of them; the report lists them with their attempt.
            assertEquals("REFUSED", fed.node.store().task(refusedTask.getTaskId()).orElseThrow().state());
            assertEquals("FOLDED", fed.node.store().task(foldedInFirst.getTaskId()).orElseThrow().state());
            JsonNode report = JSON.readTree(Files.readString(Path.of(job.resultDir()).resolve("report.json")));
            assertEquals(2, report.get("rounds").get(0).get("attempt").asInt());
            List<Integer> attempts = new ArrayList<>();
            report.get("rounds").get(0).get("tasks").forEach(t -> attempts.add(t.get("attempt").asInt()));
            assertEquals(List.of(1, 1, 2, 2), attempts);
            assertEquals(3, report.get("spec").get("roundAttempts").asInt());
        }
    }

    @Test
    void aRoundThatMissesItsQuorumInEveryAttemptFailsTheJobAfterTheLast() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            fed.enrolledClient("alice");
            fed.enrolledClient("bob");
            // Nobody answers: each attempt ends at its one-second deadline.
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec("roundAttempts: 2\n").replace("deadlineSeconds: 300", "deadlineSeconds: 1")));
            JobRecord job = fed.awaitFinal(jobId, 30_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("FAILED", job.state(), events);
            assertEquals("round 1: quorum not met, 0 of 2 contributions by the deadline in attempt 2 of 2", job.failureReason());
            assertTrue(events.contains("in attempt 1 of 2; round 1 opens again with a fresh selection (attempt 2)"), events);
            List<TaskRecord> tasks = fed.node.store().tasksOfJob(jobId);
            assertEquals(List.of(1, 1, 2, 2), tasks.stream().map(TaskRecord::attempt).sorted().toList());
            assertTrue(tasks.stream().allMatch(t -> t.state().equals("EXPIRED")), tasks::toString);
            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals("FAILED", round.state());
            assertEquals(2, round.attempt());
        }
    }

    @Test
    void aRestartedCoordinatorResumesTheCurrentAttemptAndRefoldsOnlyItsContributions() throws Exception {
        Path coord = dir.resolve("coord");
        String jobId;
        AgentIdentity bobIdentity;
        try (Federation fed = new Federation(coord)) {
            CoordinatorClient alice = fed.enrolledClient("alice");
            CoordinatorClient bob = fed.enrolledClient("bob");
            bobIdentity = bob.identity();
            jobId = fed.node.engine().submit(JobSpecParser.parse(spec("roundAttempts: 3\nseed: 5\n")));
            Task aliceFirst = AgentServiceBadInputTest.awaitTask(alice);
            Task bobFirst = AgentServiceBadInputTest.awaitTask(bob);
            contribute(alice, aliceFirst);
            // Bob cannot compute his task and no spare is online: his task closes, and the attempt is one short.
            assertEquals(TaskFailureOutcome.TASK_FAILURE_OUTCOME_CLOSED,
                    bob.reportTaskFailure(bobFirst, "simulated: calibration data unreadable", false).getOutcome());
            Task aliceSecond = AgentServiceBadInputTest.awaitTask(alice);
            assertNotEquals(aliceFirst.getTaskId(), aliceSecond.getTaskId());
            contribute(alice, aliceSecond);
        }

        try (Federation fed = new Federation(coord)) {
            String events = fed.node.store().events(jobId).toString();
            assertTrue(events.contains("resumed after restart: round 1 (attempt 2) re-folded 1 stored contributions"), events);
            AgentIdentity b = bobIdentity;
            try (CoordinatorClient bob = new CoordinatorClient(new AgentIdentity(fed.target(), b.agentId(), b.privateKey(), b.certificate(),
                    b.caCertificate(), b.signingCertificate(), b.heartbeatSeconds()), CoordinatorClient.defaultRetry())) {
                Task bobSecond = AgentServiceBadInputTest.awaitTask(bob);
                assertEquals(2, fed.node.store().task(bobSecond.getTaskId()).orElseThrow().attempt());
                contribute(bob, bobSecond);
            }
            JobRecord job = fed.awaitFinal(jobId, 30_000);
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + fed.node.store().events(jobId));
            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals(2, round.attempt());
            assertEquals(2, round.folded());
        }
    }

    @Test
    void anOverSelectedRoundClosesOnceItHasAgentsPerRoundContributions() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            Map<String, CoordinatorClient> clients = new LinkedHashMap<>();
            for (String n : List.of("alice", "bob", "carol")) {
                clients.put(n, fed.enrolledClient(n));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec("overSelectedAgents: 1\n")));
            List<TaskRecord> tasks = awaitTasks(fed, jobId, 1, 3);
            assertEquals(3, tasks.size(), "two agents per round and one more");
            Map<String, Task> pulled = new LinkedHashMap<>();
            for (var e : clients.entrySet()) {
                pulled.put(e.getKey(), AgentServiceBadInputTest.awaitTask(e.getValue()));
            }
            contribute(clients.get("alice"), pulled.get("alice"));
            contribute(clients.get("bob"), pulled.get("bob"));
            // The round has its two contributions: carol's is not wanted, whether the round has closed yet or not.
            AgentServiceBadInputTest.refused(Status.Code.FAILED_PRECONDITION, () -> contribute(clients.get("carol"), pulled.get("carol")));
            JobRecord job = fed.awaitFinal(jobId, 30_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), events);
            assertTrue(events.contains("quorum 2, closes at 2 contributions"), events);
            TaskRecord carol = fed.node.store().task(pulled.get("carol").getTaskId()).orElseThrow();
            assertEquals("EXPIRED", carol.state());
            assertEquals("not needed: the round has its 2 contributions", carol.error());
            assertEquals(2, fed.node.store().round(jobId, 0).orElseThrow().folded());
        }
    }
}
