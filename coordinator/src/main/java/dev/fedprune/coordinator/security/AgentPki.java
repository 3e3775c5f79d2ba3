package dev.fedprune.coordinator.security;

import dev.fedprune.coordinator.error.UnauthenticatedException;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.CoordinatorKeyStore;
import dev.fedprune.security.pki.Fingerprints;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * The coordinator's use of its keys: issues agent certificates, decides whether a presented client
 * certificate identifies an agent, and signs what agents download (tasks, artifacts).
 */
public final class AgentPki {
    private final CoordinatorKeyStore keys;
    private final SecurityStore store;
    private final LongSupplier clock;
    private final Duration agentCertificateValidity;

    public AgentPki(CoordinatorKeyStore keys, SecurityStore store, LongSupplier clock, Duration agentCertificateValidity) {
        this.keys = keys;
        this.store = store;
        this.clock = clock;
        this.agentCertificateValidity = agentCertificateValidity;
    }

    public CoordinatorKeyStore keys() {
        return keys;
    }

    public String caFingerprint() {
        return keys.caFingerprint();
    }

    public String caCertificatePem() {
        return Pem.write(keys.ca().certificate());
    }

    public String signingCertificatePem() {
        return Pem.write(keys.signingCertificate());
    }

    /** Issues and records a client certificate for the agent's key. */
    public X509Certificate issue(String agentId, PublicKey key, String reason) {
        long now = clock.getAsLong();
        X509Certificate cert = keys.ca().issueAgent(key, agentId, Instant.ofEpochMilli(now), agentCertificateValidity);
        store.insertCertificate(new SecurityStore.AgentCertificate(CertificateVerifier.serialHex(cert), agentId, Fingerprints.of(key), now,
                cert.getNotAfter().getTime(), reason));
        return cert;
    }

    /**
     * The agent a client certificate identifies: issued by our CA, valid now, a client certificate,
     * recorded as issued to that agent, and the agent not revoked.
     */
    public String identify(X509Certificate presented) {
        CertificateVerifier.verify(presented, keys.ca().certificate(), Instant.ofEpochMilli(clock.getAsLong()), CertificateVerifier.Purpose.CLIENT);
        String agentId = CertificateVerifier.commonName(presented);
        SecurityStore.AgentCertificate issued = store.certificate(CertificateVerifier.serialHex(presented))
                .orElseThrow(() -> new CertificateRejectedException("certificate " + CertificateVerifier.serialHex(presented) + " of '" + agentId
                        + "' was never issued by this coordinator"));
        if (!issued.agentId().equals(agentId) || !issued.publicKeySha256().equals(Fingerprints.of(presented.getPublicKey()))) {
            throw new CertificateRejectedException("certificate " + issued.serial() + " does not match what was issued to " + issued.agentId());
        }
        store.revocation(agentId).ifPresent(r -> {
            throw new UnauthenticatedException("agent " + agentId + " was revoked at " + Instant.ofEpochMilli(r.at())
                    + (r.reason() == null ? "" : " (" + r.reason() + ")"));
        });
        return agentId;
    }

    public byte[] signTask(String agentId, byte[] serializedTask) {
        return Signatures.sign(keys.signingKey(), Statements.task(agentId, serializedTask));
    }

    public byte[] signArtifact(String artifactId, long sizeBytes, String sha256) {
        return Signatures.sign(keys.signingKey(), Statements.artifact(artifactId, sizeBytes, sha256));
    }
}
