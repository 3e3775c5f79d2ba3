package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.engine.CpuInfo;
import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.LocalData;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.HeartbeatRequest;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskFailureOutcome;
import dev.fedprune.proto.v1.TaskFailureReport;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent that cannot finish its task says so (ReportTaskFailure): the coordinator hands the task to a
 * spare online agent instead of letting the round wait for its deadline, and the agent backs off before
 * it pulls again. Real agents and raw stubs over mutual TLS against an in-JVM coordinator.
 */
class TaskFailureReportTest {
    @TempDir
    Path dir;
    Path model;
    Path data;

    @BeforeEach
    void model() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n");
    }

    String spec(int agents) {
        return """
            model: %s
            localPruner: magnitude
            sparsity: 0.5
            agentsPerRound: %d
            quorum: %d
            deadlineSeconds: 300
            seed: 3
            """.formatted(model, agents, agents);
    }

    /** The engine self-check is not what these tests are about: it passes without loading a native engine. */
    AgentLoop.Options options(String name) {
        EngineSelfCheck.Report passed = new EngineSelfCheck.Report(List.of(), 0, CpuInfo.current(), false, 0);
        return new AgentLoop.Options(name, data, true, 60_000, 1).withEngineSelfCheck(() -> passed);
    }

    /**
     * Magnitude masks, except on the first agent that computes one, which fails every time it is asked
     * (which agent that is depends on the seeded selection; the test learns it from {@code broken}).
     */
    static MaskEngine failingOnFirstCaller(String name, AtomicReference<String> broken, Map<String, List<Long>> calls, Failure failure) {
        MaskEngine real = new MagnitudeMaskEngine();
        return (request, progress) -> {
            List<Long> mine = calls.computeIfAbsent(name, n -> new CopyOnWriteArrayList<>());
            mine.add(System.nanoTime());
            broken.compareAndSet(null, name);
            if (name.equals(broken.get()) && failure.failsCall(mine.size())) {
                failure.fail();
            }
            return real.computeMasks(request, progress);
        };
    }

    interface Failure {
        boolean failsCall(int call);

        void fail() throws IOException;
    }

    static String agentName(Federation fed, String agentId) {
        return fed.node.store().agent(agentId).map(AgentRecord::name).orElseThrow();
    }

    @Test
    void aTaskItsAgentCannotComputeGoesToASpareAgentAndTheRoundClosesLongBeforeItsDeadline() throws Exception {
        AtomicReference<String> broken = new AtomicReference<>();
        Map<String, List<Long>> calls = new ConcurrentHashMap<>();
        Failure always = new Failure() {
            public boolean failsCall(int call) {
                return true;
            }

            public void fail() {
                throw new IllegalStateException("simulated: the device ran out of memory\nat layer 0");
            }
        };
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            // Three agents online (enrolled) before the job opens its round of two: one is left over as a spare.
            for (String name : List.of("alice", "bob", "carol")) {
                fed.startAgent(dir.resolve("work-" + name), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, failingOnFirstCaller(name, broken, calls, always)),
                        options(name));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec(2)));
            // The deadline is 300 s: a round that waited for the failed task would not finish in time.
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + events);

            List<TaskRecord> tasks = fed.node.store().tasksOfJob(jobId);
            List<TaskRecord> failed = tasks.stream().filter(t -> t.state().equals("FAILED")).toList();
            assertEquals(1, failed.size(), tasks::toString);
            TaskRecord failedTask = failed.get(0);
            assertEquals(broken.get(), agentName(fed, failedTask.agentId()));
            // The re-issued task went to the agent the selection left out, and it folded.
            TaskRecord reissued = tasks.stream().filter(t -> t.assignedAt() >= failedTask.finishedAt() && !t.id().equals(failedTask.id()))
                    .findFirst().orElseThrow(() -> new AssertionError(tasks));
            String spare = agentName(fed, reissued.agentId());
            assertEquals("FOLDED", reissued.state(), tasks::toString);
            assertTrue(calls.containsKey(spare) && !spare.equals(broken.get()));
            assertEquals(2, tasks.stream().filter(t -> t.state().equals("FOLDED")).count(), tasks::toString);
            assertTrue(failedTask.error().contains("simulated: the device ran out of memory at layer 0")
                    && failedTask.error().contains("re-issued to " + spare), failedTask.error());
            assertTrue(events.contains("task " + failedTask.id() + " of agent " + broken.get()
                    + " failed: IllegalStateException: simulated: the device ran out of memory at layer 0; re-issued to agent " + spare), events);
            // The broken agent was not handed its task again after reporting it.
            assertEquals(1, calls.get(broken.get()).size(), "calls of the broken agent's engine");
            RoundRecord round = fed.node.store().round(jobId, 0).orElseThrow();
            assertEquals(2, round.folded());
            assertTrue(round.closedAt() - round.openedAt() < 60_000, "the round closed after " + (round.closedAt() - round.openedAt()) + " ms");
        }
    }

    @Test
    void withNoSpareOnlineARetryableFailureStaysWithItsAgentWhichBacksOffBeforePullingAgain() throws Exception {
        AtomicReference<String> flaky = new AtomicReference<>();
        Map<String, List<Long>> calls = new ConcurrentHashMap<>();
        Failure firstThree = new Failure() {
            public boolean failsCall(int call) {
                return call <= 3;
            }

            public void fail() throws IOException {
                throw new IOException("simulated: no space left on device");
            }
        };
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            for (String name : List.of("alice", "bob")) {
                fed.startAgent(dir.resolve("work-" + name), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, failingOnFirstCaller(name, flaky, calls, firstThree)),
                        options(name));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec(2)));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + events);

            List<Long> attempts = calls.get(flaky.get());
            assertEquals(4, attempts.size(), "three failures, then the task is done");
            // The waits are the agent's call back-off: 0.5 s, 1 s, 2 s, each within ±50%.
            long[] minimumMillis = {250, 500, 1000};
            for (int i = 0; i < 3; i++) {
                long waitedMillis = (attempts.get(i + 1) - attempts.get(i)) / 1_000_000;
                assertTrue(waitedMillis >= minimumMillis[i] - 5, "pulled again " + waitedMillis + " ms after failure " + (i + 1));
            }
            assertEquals(3, events.split("no spare agent online, the task stays with " + flaky.get(), -1).length - 1, events);
            List<TaskRecord> tasks = fed.node.store().tasksOfJob(jobId);
            assertEquals(List.of("FOLDED", "FOLDED"), tasks.stream().map(TaskRecord::state).toList(), tasks::toString);
        }
    }

    @Test
    void onlyTheTasksOwnAgentMayReportItsFailureAndOnlyWhileTheTaskIsOpen() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            CoordinatorClient alice = fed.enrolledClient("alice");
            CoordinatorClient bob = fed.enrolledClient("bob");
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec(2)));
            Task aliceTask = AgentServiceBadInputTest.awaitTask(alice);
            Task bobTask = AgentServiceBadInputTest.awaitTask(bob);
            ManagedChannel aliceChannel = AgentServiceBadInputTest.mutualTls(fed.target(), alice.identity());
            ManagedChannel bobChannel = AgentServiceBadInputTest.mutualTls(fed.target(), bob.identity());
            try {
                var asAlice = AgentServiceGrpc.newBlockingStub(aliceChannel);
                var asBob = AgentServiceGrpc.newBlockingStub(bobChannel);
                TaskFailureReport report = TaskFailureReport.newBuilder().setTaskId(aliceTask.getTaskId()).setReason("out of memory").build();

                var e = AgentServiceBadInputTest.refused(Status.Code.PERMISSION_DENIED, () -> asBob.reportTaskFailure(report));
                assertTrue(e.getStatus().getDescription().contains("assigned to another agent"), e.getStatus().toString());
                e = AgentServiceBadInputTest.refused(Status.Code.NOT_FOUND,
                        () -> asAlice.reportTaskFailure(report.toBuilder().setTaskId("task-does-not-exist").build()));
                assertTrue(e.getStatus().getDescription().contains("task-does-not-exist"), e.getStatus().toString());
                e = AgentServiceBadInputTest.refused(Status.Code.INVALID_ARGUMENT,
                        () -> asAlice.reportTaskFailure(report.toBuilder().setTaskId("task/../x").build()));
                assertTrue(e.getStatus().getDescription().startsWith("task_id: expected an identifier"), e.getStatus().toString());
                e = AgentServiceBadInputTest.refused(Status.Code.INVALID_ARGUMENT, () -> asAlice.reportTaskFailure(report.toBuilder().setReason(" ").build()));
                assertTrue(e.getStatus().getDescription().startsWith("reason: required"), e.getStatus().toString());
                e = AgentServiceBadInputTest.refused(Status.Code.INVALID_ARGUMENT,
                        () -> asAlice.reportTaskFailure(report.toBuilder().setReason("x".repeat(501)).build()));
                assertTrue(e.getStatus().getDescription().startsWith("reason: 501 characters, at most 500"), e.getStatus().toString());
                e = AgentServiceBadInputTest.refused(Status.Code.INVALID_ARGUMENT,
                        () -> asAlice.reportTaskFailure(report.toBuilder().setReason("oom\u001b[31m").build()));
                assertTrue(e.getStatus().getDescription().startsWith("reason: control or format character U+001B at index 3"), e.getStatus().toString());
                assertEquals("PULLED", fed.node.store().task(aliceTask.getTaskId()).orElseThrow().state(), "a refused report changes nothing");

                // No spare is online (both agents are in the round) and the failure is not retryable: the task closes.
                assertEquals(TaskFailureOutcome.TASK_FAILURE_OUTCOME_CLOSED, asAlice.reportTaskFailure(report).getOutcome());
                TaskRecord closed = fed.node.store().task(aliceTask.getTaskId()).orElseThrow();
                assertEquals("FAILED", closed.state());
                assertTrue(closed.error().contains("out of memory; no spare agent online"), closed.error());
                e = AgentServiceBadInputTest.refused(Status.Code.FAILED_PRECONDITION, () -> asAlice.reportTaskFailure(report));
                assertTrue(e.getStatus().getDescription().contains("already FAILED"), e.getStatus().toString());
                // Alice is told to stop working on it, and is not handed it again.
                HeartbeatRequest busy = HeartbeatRequest.newBuilder().setState(AgentState.AGENT_STATE_BUSY).setCurrentTaskId(aliceTask.getTaskId()).build();
                assertEquals(List.of(aliceTask.getTaskId()), asAlice.heartbeat(busy).getCancelledTaskIdsList());
                assertTrue(!alice.pullTask().hasTask());

                // Bob's contribution is the only one: every task has answered, so the round ends now, short of its quorum.
                byte[] payload = AgentServiceBadInputTest.payload(bobTask, 0, null);
                bob.upload(bobTask, "u-bob", payload);
                JobRecord job = fed.awaitFinal(jobId, 30_000);
                assertEquals("FAILED", job.state());
                assertTrue(job.failureReason().contains("quorum not met, 1 of 2 contributions accepted"), job.failureReason());
            } finally {
                aliceChannel.shutdownNow();
                bobChannel.shutdownNow();
            }
            assertEquals(Map.of("FAILED", 1L, "FOLDED", 1L), fed.node.store().tasksOfJob(jobId).stream()
                    .collect(Collectors.groupingBy(TaskRecord::state, Collectors.counting())));
        }
    }

    @Test
    void anAgentWithoutTheKindOfDataAJobNeedsReportsItsTaskAndAnAgentWithTheDataDoesIt() throws Exception {
        // The seed that selects alice (images only) for the round of two among alice, bob and carol.
        long seed = java.util.stream.LongStream.range(1, 1000).filter(s -> {
            List<String> names = new java.util.ArrayList<>(List.of("alice", "bob", "carol"));
            java.util.Collections.shuffle(names, dev.fedprune.coordinator.round.RoundEngine.selectionRandom(s, 0, 1));
            return names.subList(0, 2).contains("alice");
        }).findFirst().orElseThrow();
        Path images = Files.createDirectories(dir.resolve("images"));
        EngineSelfCheck.Report passed = new EngineSelfCheck.Report(List.of(), 0, CpuInfo.current(), false, 0);
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            fed.startAgent(dir.resolve("work-alice"), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()),
                    new AgentLoop.Options("alice", new LocalData(null, images), true, 60_000, 1).withEngineSelfCheck(() -> passed));
            for (String name : List.of("bob", "carol")) {
                fed.startAgent(dir.resolve("work-" + name), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()), options(name));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec(2).replace("seed: 3", "seed: " + seed)));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + events);
            TaskRecord alices = fed.node.store().tasksOfJob(jobId).stream().filter(t -> agentName(fed, t.agentId()).equals("alice"))
                    .findFirst().orElseThrow(() -> new AssertionError("alice was not selected: " + events));
            assertEquals("FAILED", alices.state());
            assertTrue(alices.error().contains("job " + jobId + " prunes a language model and needs token-id JSONL data (--data FILE);"
                    + " this agent has only images in " + images), alices.error());
            assertTrue(events.contains("re-issued to agent"), events);
        }
    }

    @Test
    void anAgentWithoutAHandlerForTheTaskKindReportsTheKindAndAnAgentWithOneDoesIt() throws Exception {
        long seed = java.util.stream.LongStream.range(1, 1000).filter(s -> {
            List<String> names = new java.util.ArrayList<>(List.of("alice", "bob", "carol"));
            java.util.Collections.shuffle(names, dev.fedprune.coordinator.round.RoundEngine.selectionRandom(s, 0, 1));
            return names.subList(0, 2).contains("alice");
        }).findFirst().orElseThrow();
        // Alice's agent version knows every kind but mask votes.
        TaskHandlers withoutMaskVotes = TaskHandlers.of(List.of(new dev.fedprune.agent.eval.LlmEvaluationHandler(),
                new dev.fedprune.agent.train.SparseUpdateHandler()));
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            fed.startAgent(dir.resolve("work-alice"), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()),
                    options("alice").withHandlers(withoutMaskVotes));
            for (String name : List.of("bob", "carol")) {
                fed.startAgent(dir.resolve("work-" + name), Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, new MagnitudeMaskEngine()), options(name));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec(2).replace("seed: 3", "seed: " + seed)));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            String events = fed.node.store().events(jobId).toString();
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + "\n" + events);
            TaskRecord alices = fed.node.store().tasksOfJob(jobId).stream().filter(t -> agentName(fed, t.agentId()).equals("alice"))
                    .findFirst().orElseThrow(() -> new AssertionError("alice was not selected: " + events));
            assertEquals("FAILED", alices.state());
            assertTrue(alices.error().contains("of kind TASK_KIND_MASK_VOTE with a prune spec is not supported by this agent version"),
                    alices.error());
            assertTrue(events.contains("re-issued to agent"), events);
        }
    }
}
