package dev.fedprune.agent.cli;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.InvalidProxySettingException;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.eval.LlmQualityEvaluator;
import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.LocalData;
import dev.fedprune.agent.task.LocalPruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Works on a coordinator's tasks, as the agent enrolled in the work directory, until stopped. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Connect to the coordinator this agent enrolled with (mutual TLS), pull tasks, compute contributions on local data and upload them signed.")
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--coordinator", paramLabel = "HOST:PORT", description = "Coordinator gRPC address (default: the one enrolled with).")
    String coordinator;

    @Option(names = "--data", paramLabel = "FILE",
            description = "Local token-id JSONL data for LLM pruning jobs (calibration; held-out perplexity unless --eval-data).")
    Path data;

    @Option(names = "--images", paramLabel = "DIR",
            description = "Local images for sparse-training jobs (FedTiny, FedMef, dense FedAvg): a directory of IDX files, "
                    + "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] and the held-out t10k-images/t10k-labels.")
    Path images;

    @Option(names = "--eval-data", paramLabel = "FILE",
            description = "Local held-out data (token-id JSONL) for the perplexity the coordinator asks for each round (default: --data).")
    Path evalData;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEVICE",
            description = "cpu (default), cuda or cuda:N: where pruners, evaluation and CNN training run; cuda needs DJL's CUDA natives.")
    String device;

    @Option(names = "--model", paramLabel = "DIR", description = "Local copy of the model; used when its tensors match the job's manifest.")
    Path model;

    @Option(names = "--name", paramLabel = "NAME", description = "Agent name in logs (default: host name).")
    String name;

    @Option(names = "--workdir", paramLabel = "DIR", defaultValue = "fedprune-agent", description = "Enrollment (from `enroll`) and downloaded models (default: ${DEFAULT-VALUE}).")
    Path workdir;

    @Option(names = "--exit-when-idle", description = "Exit once the coordinator has no unfinished job.")
    boolean exitWhenIdle;

    @Mixin
    ProxyOptions proxyOptions;

    @Override
    public Integer call() throws IOException {
        if (data == null && images == null) {
            System.err.println("--data FILE (token-id JSONL, for LLM pruning jobs) or --images DIR (IDX images, for sparse-training jobs)"
                    + " is required: an agent without data can work on no job");
            return 2;
        }
        if (data != null && !Files.isRegularFile(data)) {
            System.err.println("--data: " + data + " is not a file (token-id JSONL, one sample per line)");
            return 2;
        }
        if (images != null && !Files.isDirectory(images)) {
            System.err.println("--images: " + images + " is not a directory (of IDX files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
                    + " t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)");
            return 2;
        }
        ai.djl.Device compute;
        try {
            compute = DecoderRuntime.device(device);
        } catch (IllegalArgumentException e) {
            System.err.println("--device: " + e.getMessage());
            return 2;
        }
        if (evalData != null && !Files.isRegularFile(evalData)) {
            System.err.println("--eval-data: " + evalData + " is not a file");
            return 2;
        }
        if (model != null && !Files.isDirectory(model)) {
            System.err.println("--model: " + model + " is not a directory");
            return 2;
        }
        if (!AgentIdentity.existsIn(workdir)) {
            System.err.println("--workdir: " + workdir + " holds no enrollment; run `fedprune-agent enroll --coordinator HOST:PORT --token TOKEN"
                    + " --ca-fingerprint FP --workdir " + workdir + "` first");
            return 2;
        }
        AgentIdentity identity = AgentIdentity.load(workdir);
        if (coordinator != null && !coordinator.equals(identity.coordinator())) {
            identity = new AgentIdentity(coordinator, identity.agentId(), identity.privateKey(), identity.certificate(), identity.caCertificate(),
                    identity.signingCertificate(), identity.heartbeatSeconds());
        }
        ProxySettings proxy;
        try {
            proxy = proxyOptions.resolve(System.getenv(), identity.coordinator());
        } catch (InvalidProxySettingException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        String agentName = name != null ? name : java.net.InetAddress.getLocalHost().getHostName();
        try (CoordinatorClient client = new CoordinatorClient(identity, proxy, CoordinatorClient.defaultRetry())) {
            client.onRenewed(renewed -> {
                try {
                    renewed.save(workdir);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot save the renewed certificate in " + workdir, e);
                }
            });
            client.renewIfDue();
            MaskEngine llm = new LlmMaskEngine(compute);
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, workdir, model),
                    Map.of(LocalPruneMethod.MAGNITUDE, llm, LocalPruneMethod.WANDA, llm, LocalPruneMethod.SPARSEGPT, llm),
                    new LlmQualityEvaluator(compute, evalData), compute, new AgentLoop.Options(agentName, new LocalData(data, images), exitWhenIdle, 60_000, identity.heartbeatSeconds()));
            Runtime.getRuntime().addShutdownHook(new Thread(loop::stop));
            loop.run();
        }
        return 0;
    }
}
