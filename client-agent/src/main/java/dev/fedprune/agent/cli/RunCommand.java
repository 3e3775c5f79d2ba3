package dev.fedprune.agent.cli;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.AgentCredentials;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Joins a coordinator and works on its tasks until stopped. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Join a coordinator, pull tasks, compute contributions on local data and upload them.")
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--coordinator", required = true, paramLabel = "HOST:PORT", description = "Coordinator gRPC address.")
    String coordinator;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Local calibration data (token-id JSONL).")
    Path data;

    @Option(names = "--model", paramLabel = "DIR", description = "Local copy of the model; used when its tensors match the job's manifest.")
    Path model;

    @Option(names = "--name", paramLabel = "NAME", description = "Agent name shown to operators (default: host name).")
    String name;

    @Option(names = "--site", paramLabel = "SITE", defaultValue = "", description = "Site this agent belongs to.")
    String site;

    @Option(names = "--workdir", paramLabel = "DIR", defaultValue = "fedprune-agent", description = "Credentials and downloaded models (default: ${DEFAULT-VALUE}).")
    Path workdir;

    @Option(names = "--exit-when-idle", description = "Exit once the coordinator has no unfinished job.")
    boolean exitWhenIdle;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(data)) {
            System.err.println("--data: " + data + " is not a file");
            return 2;
        }
        if (model != null && !Files.isDirectory(model)) {
            System.err.println("--model: " + model + " is not a directory");
            return 2;
        }
        String agentName = name != null ? name : java.net.InetAddress.getLocalHost().getHostName();
        Files.createDirectories(workdir);
        try (CoordinatorClient client = new CoordinatorClient(coordinator, CoordinatorClient.defaultRetry())) {
            int heartbeat = enrollOrReuse(client, agentName);
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, workdir, model), AgentLoop.defaultEngines(),
                    new AgentLoop.Options(agentName, data, exitWhenIdle, 60_000, heartbeat));
            Runtime.getRuntime().addShutdownHook(new Thread(loop::stop));
            loop.run();
        }
        return 0;
    }

    /** Reuses the credentials in the work directory when they were issued by this coordinator. */
    private int enrollOrReuse(CoordinatorClient client, String agentName) throws IOException {
        Path file = workdir.resolve("agent.properties");
        Properties props = new Properties();
        if (Files.isRegularFile(file)) {
            try (var in = Files.newInputStream(file)) {
                props.load(in);
            }
            if (coordinator.equals(props.getProperty("coordinator"))) {
                client.useCredentials(AgentCredentials.newBuilder().setAgentId(props.getProperty("agent_id"))
                        .setSecret(props.getProperty("secret")).build());
                return Integer.parseInt(props.getProperty("heartbeat_seconds", "5"));
            }
        }
        DeviceResources resources = DeviceResources.newBuilder().setCpuCores(Runtime.getRuntime().availableProcessors())
                .setMemoryBytes(Runtime.getRuntime().maxMemory()).setAccelerator("cpu").build();
        var response = client.enroll(agentName, site, resources);
        props.setProperty("coordinator", coordinator);
        props.setProperty("agent_id", response.getCredentials().getAgentId());
        props.setProperty("secret", response.getCredentials().getSecret());
        props.setProperty("heartbeat_seconds", Integer.toString(response.getHeartbeatIntervalSeconds()));
        try (var out = Files.newOutputStream(file)) {
            props.store(out, "FedPrune agent enrollment (placeholder credentials; keep this file private)");
        }
        return response.getHeartbeatIntervalSeconds();
    }
}
