package dev.fedprune.agent.cli;

import dev.fedprune.agent.config.AgentConfig;
import dev.fedprune.agent.config.ConfigKey;
import dev.fedprune.agent.config.InvalidConfigException;
import dev.fedprune.agent.config.Sourced;
import dev.fedprune.agent.connection.InvalidProxySettingException;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.agent.enrollment.Enrollment;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.pki.Fingerprints;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Trades a one-time enrollment token for this agent's certificate; the key is generated here and stays here. */
@Command(name = "enroll", mixinStandardHelpOptions = true,
        description = "Enroll this agent with a coordinator: generate a key locally, pin the coordinator by its CA fingerprint,"
                + " and store the issued certificate in the work directory. Flags override FEDPRUNE_AGENT_* variables, which override agent.yaml.")
public final class EnrollCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "agent.yaml to read (default: $" + AgentConfig.CONFIG_VARIABLE + ", else none).")
    String config;

    @Option(names = "--coordinator", paramLabel = "HOST:PORT",
            description = "Coordinator gRPC address (required here, in FEDPRUNE_AGENT_COORDINATOR or as coordinator in agent.yaml).")
    String coordinator;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "File holding the one-time enrollment token from an operator (default: " + AgentConfig.TOKEN_VARIABLE
                    + ", FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE, enrollment.tokenFile).")
    String tokenFile;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "The one-time enrollment token itself; `ps` shows it to every user of this machine, so prefer --token-file or "
                    + AgentConfig.TOKEN_VARIABLE + ".")
    String token;

    @Option(names = "--ca-fingerprint", paramLabel = "FP",
            description = "SHA-256 fingerprint of the coordinator's CA, as the coordinator prints it (colons optional;"
                    + " default: FEDPRUNE_AGENT_ENROLLMENT_CA_FINGERPRINT, enrollment.caFingerprint).")
    String caFingerprint;

    @Option(names = "--name", paramLabel = "NAME", description = "Agent name shown to operators (default: host name).")
    String name;

    @Option(names = "--site", paramLabel = "SITE", defaultValue = "", description = "Site this agent belongs to (a token minted for a site overrides it).")
    String site;

    @Option(names = "--workdir", paramLabel = "DIR", description = "Where the key and certificates go (default: fedprune-agent).")
    String workdir;

    @Mixin
    ProxyOptions proxyOptions;

    AgentConfig.Flags flags() {
        return proxyOptions.addTo(new AgentConfig.Flags(config)
                .with(ConfigKey.COORDINATOR, coordinator)
                .with(ConfigKey.ENROLLMENT_TOKEN_FILE, tokenFile)
                .with(ConfigKey.ENROLLMENT_CA_FINGERPRINT, caFingerprint)
                .with(ConfigKey.NAME, name)
                .with(ConfigKey.WORKDIR, workdir)
                .withToken(token));
    }

    @Override
    public Integer call() throws IOException {
        if (token != null) {
            System.err.println("warning: --token puts the enrollment token in this process's arguments, which `ps` shows to every user of"
                    + " this machine; give it with --token-file FILE or " + AgentConfig.TOKEN_VARIABLE + " instead");
        }
        AgentConfig settings;
        Sourced<String> target;
        Sourced<String> fingerprint;
        String oneTimeToken;
        ProxySettings proxy;
        try {
            settings = AgentConfig.resolve(flags(), System.getenv());
            target = settings.requireCoordinator();
            fingerprint = settings.requireCaFingerprint();
            oneTimeToken = settings.readEnrollmentToken();
            proxy = settings.proxyFor(target.value());
        } catch (InvalidConfigException | InvalidProxySettingException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        String agentName = settings.agentName();
        Path directory = settings.workdir().value();
        long cores = settings.threads() != null ? settings.threads().value() : Runtime.getRuntime().availableProcessors();
        long memory = settings.memoryBytes() != null ? settings.memoryBytes().value() : Runtime.getRuntime().maxMemory();
        DeviceResources resources = DeviceResources.newBuilder().setCpuCores((int) cores).setMemoryBytes(memory)
                .setAccelerator(settings.device().value()).build();
        AgentIdentity identity;
        try {
            // Checked here too so that a malformed fingerprint names its flag, variable or file key.
            Fingerprints.normalize(fingerprint.value(), fingerprint.source());
            identity = Enrollment.enroll(target.value(), oneTimeToken, fingerprint.value(), agentName, site, resources, proxy);
        } catch (StatusRuntimeException e) {
            System.err.println("enrollment failed: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""));
            return 1;
        } catch (InvalidSecurityInputException | CertificateRejectedException e) {
            System.err.println("enrollment failed: " + e.getMessage());
            return 1;
        }
        identity.save(directory);
        System.out.println("enrolled as " + identity.agentId() + " with " + target.value() + "; certificate valid until " + identity.notAfter());
        System.out.println("coordinator CA " + Fingerprints.display(Fingerprints.of(identity.caCertificate())) + "; key and certificates in "
                + directory.toAbsolutePath());
        return 0;
    }
}
