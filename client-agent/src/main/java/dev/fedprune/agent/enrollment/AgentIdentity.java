package dev.fedprune.agent.enrollment;

import dev.fedprune.security.pki.CoordinatorKeyStore;
import dev.fedprune.security.pki.Pem;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;

/**
 * Who this agent is to its coordinator: its private key (generated here, never sent), the client
 * certificate the coordinator's CA issued for it, the pinned CA certificate, and the certificate
 * whose key signs tasks and artifacts. Kept in the agent's work directory, the key readable by the
 * owner only.
 */
public record AgentIdentity(String coordinator, String agentId, PrivateKey privateKey, X509Certificate certificate,
                            X509Certificate caCertificate, X509Certificate signingCertificate, int heartbeatSeconds) {
    static final String KEY_FILE = "agent-key.pem";
    static final String CERT_FILE = "agent-cert.pem";
    static final String CA_FILE = "ca-cert.pem";
    static final String SIGNING_FILE = "coordinator-signing-cert.pem";
    static final String PROPERTIES_FILE = "agent.properties";

    public Instant notAfter() {
        return certificate.getNotAfter().toInstant();
    }

    /** True once two thirds of the certificate's lifetime have passed: time to renew. */
    public boolean renewalDue(Instant now) {
        Instant notBefore = certificate.getNotBefore().toInstant();
        Duration lifetime = Duration.between(notBefore, notAfter());
        return now.isAfter(notBefore.plus(lifetime.multipliedBy(2).dividedBy(3)));
    }

    public AgentIdentity withCertificate(PrivateKey key, X509Certificate cert, X509Certificate signing) {
        return new AgentIdentity(coordinator, agentId, key, cert, caCertificate, signing, heartbeatSeconds);
    }

    public static boolean existsIn(Path workdir) {
        return Files.isRegularFile(workdir.resolve(KEY_FILE)) && Files.isRegularFile(workdir.resolve(PROPERTIES_FILE));
    }

    public static AgentIdentity load(Path workdir) throws IOException {
        if (!existsIn(workdir)) {
            throw new IOException("no enrollment in " + workdir.toAbsolutePath() + ": run `fedprune-agent enroll --coordinator HOST:PORT"
                    + " --token-file FILE --ca-fingerprint FP --workdir " + workdir + "` first");
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(workdir.resolve(PROPERTIES_FILE))) {
            p.load(in);
        }
        return new AgentIdentity(p.getProperty("coordinator"), p.getProperty("agent_id"),
                Pem.privateKey(Files.readString(workdir.resolve(KEY_FILE)), KEY_FILE),
                Pem.certificate(Files.readString(workdir.resolve(CERT_FILE)), CERT_FILE),
                Pem.certificate(Files.readString(workdir.resolve(CA_FILE)), CA_FILE),
                Pem.certificate(Files.readString(workdir.resolve(SIGNING_FILE)), SIGNING_FILE),
                Integer.parseInt(p.getProperty("heartbeat_seconds", "5")));
    }

    /** Writes every file atomically; the private key file is created owner-only before the key is written. */
    public void save(Path workdir) throws IOException {
        Files.createDirectories(workdir);
        write(workdir, KEY_FILE, Pem.write(privateKey), true);
        write(workdir, CERT_FILE, Pem.write(certificate), false);
        write(workdir, CA_FILE, Pem.write(caCertificate), false);
        write(workdir, SIGNING_FILE, Pem.write(signingCertificate), false);
        Properties p = new Properties();
        p.setProperty("coordinator", coordinator);
        p.setProperty("agent_id", agentId);
        p.setProperty("heartbeat_seconds", Integer.toString(heartbeatSeconds));
        Path tmp = Files.createTempFile(workdir, PROPERTIES_FILE, ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "FedPrune agent enrollment; the key and certificates are in the PEM files beside this one");
        }
        Files.move(tmp, workdir.resolve(PROPERTIES_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void write(Path dir, String name, String text, boolean secret) throws IOException {
        Path tmp = Files.createTempFile(dir, name, ".tmp");
        if (secret) {
            CoordinatorKeyStore.restrictToOwner(tmp);
        }
        Files.writeString(tmp, text);
        Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public String toString() {
        return "AgentIdentity[" + agentId + " at " + coordinator + ", certificate until " + notAfter() + "]";
    }
}
