package dev.fedprune.agent.enrollment;

import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.connection.TlsChannels;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.DeviceResources;
import dev.fedprune.proto.v1.EnrollRequest;
import dev.fedprune.proto.v1.EnrollResponse;
import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.pki.Fingerprints;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.grpc.ManagedChannel;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * Token enrollment, the agent's side: generate a key pair locally, reach the coordinator over TLS
 * pinned to the CA fingerprint the operator handed out, send a CSR with the one-time token, and check
 * that what comes back really certifies this key under that CA.
 */
public final class Enrollment {
    private Enrollment() {
    }

    public static AgentIdentity enroll(String target, String token, String caFingerprint, String name, String site, DeviceResources resources) {
        return enroll(target, token, caFingerprint, name, site, resources, null);
    }

    /** Enrolls through an HTTP CONNECT proxy ({@code proxy} null: directly); the CA pin holds inside the tunnel. */
    public static AgentIdentity enroll(String target, String token, String caFingerprint, String name, String site, DeviceResources resources,
                                       ProxySettings proxy) {
        PinnedCaTrustManager trust = PinnedCaTrustManager.forFingerprint(caFingerprint, Clock.systemUTC());
        KeyPair keys = KeyPairs.generate();
        ManagedChannel channel = TlsChannels.serverTls(target, trust, proxy);
        try {
            EnrollResponse response = AgentServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).enroll(EnrollRequest.newBuilder()
                    .setName(name).setSite(site == null ? "" : site).setEnrollmentToken(token).setResources(resources)
                    .setCsrPem(Csrs.create(keys, name)).build());
            X509Certificate ca = Pem.certificate(response.getCaCertificatePem(), "ca_certificate_pem");
            if (!Fingerprints.of(ca).equals(Fingerprints.normalize(caFingerprint, "ca-fingerprint"))) {
                throw new CertificateRejectedException("the coordinator returned a CA certificate that does not have the pinned fingerprint");
            }
            return accept(target, response, keys.getPrivate(), keys.getPublic(), ca);
        } finally {
            channel.shutdownNow();
        }
    }

    /** Checks an Enroll or Renew response against the pinned CA and the key that was certified. */
    public static AgentIdentity accept(String target, EnrollResponse response, PrivateKey key, PublicKey expectedKey, X509Certificate ca) {
        Instant now = Instant.now();
        X509Certificate cert = Pem.certificate(response.getCertificatePem(), "certificate_pem");
        CertificateVerifier.verify(cert, ca, now, CertificateVerifier.Purpose.CLIENT);
        if (!cert.getPublicKey().equals(expectedKey)) {
            throw new CertificateRejectedException("the coordinator certified another key than the one in this agent's request");
        }
        if (!CertificateVerifier.commonName(cert).equals(response.getAgentId())) {
            throw new CertificateRejectedException("the certificate names '" + CertificateVerifier.commonName(cert) + "', the response agent '"
                    + response.getAgentId() + "'");
        }
        X509Certificate signing = Pem.certificate(response.getSigningCertificatePem(), "signing_certificate_pem");
        CertificateVerifier.verify(signing, ca, now, CertificateVerifier.Purpose.SIGNING);
        return new AgentIdentity(target, response.getAgentId(), key, cert, ca, signing, Math.max(1, response.getHeartbeatIntervalSeconds()));
    }
}
