package dev.fedprune.simulations.scenario;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntFunction;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One federated job with virtual agents: a real coordinator node and N real agent loops in this JVM,
 * talking gRPC over loopback, each agent with its own data file. An agent may be given a failure
 * (drop out, straggle, crash once and rejoin with a new connection).
 */
public final class VirtualFederation {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /**
     * What a run left behind.
     *
     * @param rounds  the job's rounds with their summaries, as the coordinator stored them
     * @param metrics the metrics each agent reported with its task, by task id
     */
    public record Result(String jobId, String state, String failureReason, Path resultDir, JsonNode report, List<TaskRecord> tasks,
                         long wallMillis, List<RoundRecord> rounds, Map<String, Map<String, Double>> metrics) {
    }

    /** The failure given to one agent. */
    public enum Failure { NONE, DROPOUT, STRAGGLER, CRASH_REJOIN }

    private VirtualFederation() {
    }

    /**
     * @param engines  the pruners of agent i (lets a study share cached masks between runs)
     * @param failures the failure of agent i
     */
    public static Result run(Path out, List<Path> slices, Map<String, Object> spec, IntFunction<Map<PruneMethod, MaskEngine>> engines,
                             IntFunction<Failure> failures, double stragglerDelaySeconds, Path localModel, PrintStream console)
            throws IOException, InterruptedException {
        return run(out, slices, spec, engines, failures, stragglerDelaySeconds, localModel, console, i -> null);
    }

    /**
     * @param handlers the task handlers of agent i, null for the ones on the class path (a malicious agent's
     *                 tamper with what they compute: {@link dev.fedprune.simulations.poisoning.Poisoning})
     */
    public static Result run(Path out, List<Path> slices, Map<String, Object> spec, IntFunction<Map<PruneMethod, MaskEngine>> engines,
                             IntFunction<Failure> failures, double stragglerDelaySeconds, Path localModel, PrintStream console,
                             IntFunction<TaskHandlers> handlers) throws IOException, InterruptedException {
        Files.createDirectories(out);
        String specJson = JSON.writeValueAsString(spec);
        CoordinatorNode.Config defaults = CoordinatorNode.Config.defaults(out.resolve("coordinator"));
        CoordinatorNode.Config config = new CoordinatorNode.Config(defaults.dataDir(), "127.0.0.1", 0, null, "sa", "",
                defaults.agentTimeoutSeconds(), 1, 50);
        List<Thread> threads = new CopyOnWriteArrayList<>();
        List<AgentLoop> loops = new CopyOnWriteArrayList<>();
        List<CoordinatorClient> clients = new CopyOnWriteArrayList<>();
        long started = System.currentTimeMillis();
        try (CoordinatorNode node = CoordinatorNode.start(config, (jobId, message) -> console.println("[" + jobId + "] " + message))) {
            String target = "127.0.0.1:" + node.grpcPort();
            for (int i = 0; i < slices.size(); i++) {
                String name = String.format("agent-%03d", i);
                // The real enrollment flow, in process: a one-time token, a CSR, a certificate, then mutual TLS.
                String site = "simulated-site-" + i;
                CoordinatorClient client = CoordinatorClient.enroll(target, node.enrollment().mintToken(site, Duration.ofMinutes(10), "simulation").token(),
                        node.pki().caFingerprint(), name, site, DeviceResources.newBuilder().setCpuCores(1).setDeviceClass("virtual").build(),
                        CoordinatorClient.defaultRetry());
                clients.add(client);
                startAgent(name, client, slices.get(i), engines.apply(i), handlers.apply(i), failures.apply(i), stragglerDelaySeconds, out,
                        localModel, target, threads, loops, clients);
            }
            String jobId = node.engine().submit(JobSpecParser.parse(specJson));
            JobRecord job;
            while (true) {
                job = node.store().job(jobId).orElseThrow();
                if (JobState.valueOf(job.state()).isFinal()) {
                    break;
                }
                Thread.sleep(50);
            }
            loops.forEach(AgentLoop::stop);
            threads.forEach(Thread::interrupt); // wakes agents that simulate a dropout
            for (Thread t : threads) {
                t.join(10_000);
            }
            JsonNode report = job.resultDir() == null ? null : JSON.readTree(Files.readString(Path.of(job.resultDir()).resolve("report.json")));
            List<TaskRecord> tasks = node.store().tasksOfJob(jobId);
            Map<String, Map<String, Double>> metrics = new LinkedHashMap<>();
            for (TaskRecord t : tasks) {
                metrics.put(t.id(), node.store().metrics(t.id()));
            }
            return new Result(jobId, job.state(), job.failureReason(), job.resultDir() == null ? null : Path.of(job.resultDir()), report,
                    tasks, System.currentTimeMillis() - started, node.store().rounds(jobId), metrics);
        } finally {
            loops.forEach(AgentLoop::stop);
            clients.forEach(CoordinatorClient::close);
        }
    }

    private static void startAgent(String name, CoordinatorClient client, Path data, Map<PruneMethod, MaskEngine> engines,
                                   TaskHandlers handlers, Failure failure, double stragglerDelaySeconds, Path out, Path localModel, String target,
                                   List<Thread> threads, List<AgentLoop> loops, List<CoordinatorClient> clients) {
        AgentLoop[] self = new AgentLoop[1];
        Runnable onCrash = () -> {
            // The agent process dies: its loop stops and its connection goes away. It comes back with a new
            // connection and the same identity, and picks up the task it had pulled.
            self[0].stop();
            AgentIdentity identity = client.identity();
            client.close();
            CoordinatorClient reborn = new CoordinatorClient(identity, CoordinatorClient.defaultRetry());
            clients.add(reborn);
            startAgent(name, reborn, data, engines, handlers, Failure.NONE, 0, out, localModel, target, threads, loops, clients);
        };
        Map<PruneMethod, MaskEngine> effective = failure == Failure.NONE ? engines
                : FailureInjection.wrap(engines, failure, stragglerDelaySeconds, onCrash);
        AgentLoop.Options options = new AgentLoop.Options(name, data, false, 0, 1);
        AgentLoop loop = new AgentLoop(client, new ModelCache(client, out.resolve("agents").resolve(name), localModel), effective,
                handlers == null ? options : options.withHandlers(handlers));
        self[0] = loop;
        Thread t = new Thread(loop::run, name);
        t.setDaemon(true);
        threads.add(t);
        loops.add(loop);
        t.start();
    }

    /** Counts of what went wrong in a run, from the tasks' final states. */
    public static Map<String, Long> failuresSeen(Result result) {
        long expired = result.tasks().stream().filter(t -> t.state().equals("EXPIRED")).count();
        long refused = result.tasks().stream().filter(t -> t.state().equals("REFUSED")).count();
        return Map.of("expired_tasks", expired, "refused_tasks", refused);
    }
}
