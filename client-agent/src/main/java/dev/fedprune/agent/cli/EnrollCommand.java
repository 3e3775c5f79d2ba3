package dev.fedprune.agent.cli;

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
                + " and store the issued certificate in the work directory.")
public final class EnrollCommand implements Callable<Integer> {
    @Option(names = "--coordinator", required = true, paramLabel = "HOST:PORT", description = "Coordinator gRPC address.")
    String coordinator;

    @Option(names = "--token", required = true, paramLabel = "TOKEN", description = "One-time enrollment token from an operator.")
    String token;

    @Option(names = "--ca-fingerprint", required = true, paramLabel = "FP",
            description = "SHA-256 fingerprint of the coordinator's CA, as the coordinator prints it (colons optional).")
    String caFingerprint;

    @Option(names = "--name", paramLabel = "NAME", description = "Agent name shown to operators (default: host name).")
    String name;

    @Option(names = "--site", paramLabel = "SITE", defaultValue = "", description = "Site this agent belongs to (a token minted for a site overrides it).")
    String site;

    @Option(names = "--workdir", paramLabel = "DIR", defaultValue = "fedprune-agent", description = "Where the key and certificates go (default: ${DEFAULT-VALUE}).")
    Path workdir;

    @Mixin
    ProxyOptions proxyOptions;

    @Override
    public Integer call() throws IOException {
        ProxySettings proxy;
        try {
            proxy = proxyOptions.resolve(System.getenv(), coordinator);
        } catch (InvalidProxySettingException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        String agentName = name != null ? name : java.net.InetAddress.getLocalHost().getHostName();
        DeviceResources resources = DeviceResources.newBuilder().setCpuCores(Runtime.getRuntime().availableProcessors())
                .setMemoryBytes(Runtime.getRuntime().maxMemory()).setAccelerator("cpu").build();
        AgentIdentity identity;
        try {
            identity = Enrollment.enroll(coordinator, token, caFingerprint, agentName, site, resources, proxy);
        } catch (StatusRuntimeException e) {
            System.err.println("enrollment failed: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""));
            return 1;
        } catch (InvalidSecurityInputException | CertificateRejectedException e) {
            System.err.println("enrollment failed: " + e.getMessage());
            return 1;
        }
        identity.save(workdir);
        System.out.println("enrolled as " + identity.agentId() + " with " + coordinator + "; certificate valid until " + identity.notAfter());
        System.out.println("coordinator CA " + Fingerprints.display(Fingerprints.of(identity.caCertificate())) + "; key and certificates in "
                + workdir.toAbsolutePath());
        return 0;
    }
}
