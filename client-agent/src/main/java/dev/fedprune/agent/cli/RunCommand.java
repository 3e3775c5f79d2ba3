package dev.fedprune.agent.cli;

import dev.fedprune.agent.config.AgentConfig;
import dev.fedprune.agent.config.ConfigKey;
import dev.fedprune.agent.config.InvalidConfigException;
import dev.fedprune.agent.config.Sourced;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.InvalidProxySettingException;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.engine.ComputeDevice;
import dev.fedprune.agent.engine.ComputeThreads;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.eval.LlmQualityEvaluator;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.LocalData;
import dev.fedprune.agent.task.LocalPruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MemoryLimit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Works on a coordinator's tasks, as the agent enrolled in the work directory, until stopped. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Connect to the coordinator this agent enrolled with (mutual TLS), pull tasks, compute contributions on local data and upload them signed."
                + " Flags override FEDPRUNE_AGENT_* variables, which override agent.yaml.")
public final class RunCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = "--config", paramLabel = "FILE", description = "agent.yaml to read (default: $" + AgentConfig.CONFIG_VARIABLE + ", else none).")
    String config;

    @Option(names = "--coordinator", paramLabel = "HOST:PORT", description = "Coordinator gRPC address (default: the one enrolled with).")
    String coordinator;

    @Option(names = "--data", paramLabel = "FILE",
            description = "Local token-id JSONL data for LLM pruning jobs (calibration; held-out perplexity unless --eval-data); data.tokens in agent.yaml.")
    String data;

    @Option(names = "--images", paramLabel = "DIR",
            description = "Local images for sparse-training jobs (FedTiny, FedMef, dense FedAvg): a directory of IDX files, "
                    + "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] and the held-out t10k-images/t10k-labels; data.images in agent.yaml.")
    String images;

    @Option(names = "--eval-data", paramLabel = "FILE",
            description = "Local held-out data (token-id JSONL) for the perplexity the coordinator asks for each round (default: --data);"
                    + " data.evalTokens in agent.yaml.")
    String evalData;

    @Option(names = "--device", paramLabel = "DEVICE",
            description = "cpu (default), cuda or cuda:N: where pruners, evaluation and CNN training run; cuda needs a libtorch built with CUDA"
                    + " (PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR=cu128), checked at start.")
    String device;

    @Option(names = "--model", paramLabel = "DIR", description = "Local copy of the model; used when its tensors match the job's manifest.")
    String model;

    @Option(names = "--name", paramLabel = "NAME", description = "Agent name in logs (default: host name).")
    String name;

    @Option(names = "--workdir", paramLabel = "DIR", description = "Enrollment (from `enroll`) and downloaded models (default: fedprune-agent).")
    String workdir;

    @Option(names = "--exit-when-idle", negatable = true, description = "Exit once the coordinator has no unfinished job (default: keep running).")
    Boolean exitWhenIdle;

    @Option(names = "--threads", paramLabel = "N",
            description = "Compute threads: libtorch intra-op and inter-op threads and the JVM's ForkJoin common pool (default: all cores).")
    String threads;

    @Option(names = "--memory", paramLabel = "SIZE",
            description = "Memory limit (8g, 512m): LLM tasks whose model needs more are refused before the download (default: no limit).")
    String memory;

    @Mixin
    ProxyOptions proxyOptions;

    AgentConfig.Flags flags() {
        return proxyOptions.addTo(new AgentConfig.Flags(config)
                .with(ConfigKey.COORDINATOR, coordinator)
                .with(ConfigKey.DATA_TOKENS, data)
                .with(ConfigKey.DATA_IMAGES, images)
                .with(ConfigKey.DATA_EVAL_TOKENS, evalData)
                .with(ConfigKey.DEVICE, device)
                .with(ConfigKey.MODEL, model)
                .with(ConfigKey.NAME, name)
                .with(ConfigKey.WORKDIR, workdir)
                .with(ConfigKey.EXIT_WHEN_IDLE, exitWhenIdle)
                .with(ConfigKey.LIMITS_THREADS, threads)
                .with(ConfigKey.LIMITS_MEMORY, memory));
    }

    @Override
    public Integer call() throws IOException {
        AgentConfig settings;
        LocalData localData;
        try {
            settings = AgentConfig.resolve(flags(), System.getenv());
            localData = settings.localData();
        } catch (InvalidConfigException | InvalidProxySettingException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        if (settings.threads() != null) {
            // Before anything computes: the pools take their size when first used.
            int limit = settings.threads().value();
            ComputeThreads.limitTo(limit, settings.threads().source()).forEach(warning -> log.warn("{}", warning));
            log.info("compute threads limited to {} ({}): libtorch intra-op and inter-op threads, and the ForkJoin common pool", limit,
                    settings.threads().source());
        }
        ai.djl.Device compute;
        try {
            // Before the enrollment and any connection: an agent that cannot compute on its device must not take tasks.
            compute = ComputeDevice.require(settings.device().value(), settings.device().source());
        } catch (IllegalArgumentException | ComputeDevice.UnavailableDeviceException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        Sourced<Path> workdirSetting = settings.workdir();
        Path directory = workdirSetting.value();
        if (!AgentIdentity.existsIn(directory)) {
            String setting = workdirSetting.layer() == Sourced.Layer.DEFAULT ? "--workdir" : workdirSetting.source();
            System.err.println(setting + ": " + directory + " holds no enrollment; run `fedprune-agent enroll` with this work directory first"
                    + " (the same --config, or --coordinator HOST:PORT --token-file FILE --ca-fingerprint FP --workdir " + directory + ")");
            return 2;
        }
        AgentIdentity identity = AgentIdentity.load(directory);
        if (settings.coordinator() != null && !settings.coordinator().value().equals(identity.coordinator())) {
            identity = new AgentIdentity(settings.coordinator().value(), identity.agentId(), identity.privateKey(), identity.certificate(),
                    identity.caCertificate(), identity.signingCertificate(), identity.heartbeatSeconds());
        }
        ProxySettings proxy = settings.proxyFor(identity.coordinator());
        MemoryLimit memoryLimit = null;
        if (settings.memoryBytes() != null) {
            memoryLimit = new MemoryLimit(settings.memoryBytes().value(), settings.memoryBytes().source());
            memoryLimit.startWarnings(Runtime.getRuntime().maxMemory(), physicalMemoryBytes()).forEach(warning -> log.warn("{}", warning));
            log.info("memory limited to {} ({}): LLM tasks whose model needs more are refused before the download",
                    MemoryLimit.format(memoryLimit.bytes()), memoryLimit.source());
        }
        String agentName = settings.agentName();
        try (CoordinatorClient client = new CoordinatorClient(identity, proxy, CoordinatorClient.defaultRetry())) {
            client.onRenewed(renewed -> {
                try {
                    renewed.save(directory);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot save the renewed certificate in " + directory, e);
                }
            });
            client.renewIfDue();
            MaskEngine llm = new LlmMaskEngine(compute);
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, directory, settings.modelPath()),
                    Map.of(LocalPruneMethod.MAGNITUDE, llm, LocalPruneMethod.WANDA, llm, LocalPruneMethod.SPARSEGPT, llm),
                    new LlmQualityEvaluator(compute, settings.evalTokensPath()), compute,
                    new AgentLoop.Options(agentName, localData, settings.exitWhenIdle().value(), 60_000, identity.heartbeatSeconds())
                            .withMemoryLimit(memoryLimit));
            Runtime.getRuntime().addShutdownHook(new Thread(loop::stop));
            loop.run();
        }
        return 0;
    }

    /** The machine's (or container's) memory, 0 when the JVM cannot tell. */
    private static long physicalMemoryBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 0;
    }
}
