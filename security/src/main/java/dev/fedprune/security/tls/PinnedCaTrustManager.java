package dev.fedprune.security.tls;

import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.Fingerprints;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The agent's trust in its coordinator: the server's certificate must be issued by the CA with the
 * pinned fingerprint (from the operator, out of band) and be a server certificate. No public CA is
 * trusted, and the host name is not checked: the pinned private CA certifies only this coordinator,
 * and agents may reach it through names (NAT, tunnels) that its certificate cannot list.
 */
public final class PinnedCaTrustManager extends X509ExtendedTrustManager {
    private final String pinnedFingerprint;
    private final Clock clock;
    private volatile X509Certificate pinnedCa;

    /** Pins by fingerprint only, for enrollment: the CA certificate itself comes in the server's chain. */
    public static PinnedCaTrustManager forFingerprint(String caFingerprint, Clock clock) {
        return new PinnedCaTrustManager(Fingerprints.normalize(caFingerprint, "ca-fingerprint"), null, clock);
    }

    /** Pins a CA certificate the agent already stored at enrollment. */
    public static PinnedCaTrustManager forCertificate(X509Certificate ca, Clock clock) {
        return new PinnedCaTrustManager(Fingerprints.of(ca), ca, clock);
    }

    private PinnedCaTrustManager(String pinnedFingerprint, X509Certificate pinnedCa, Clock clock) {
        this.pinnedFingerprint = pinnedFingerprint;
        this.pinnedCa = pinnedCa;
        this.clock = clock;
    }

    /** The pinned CA certificate, once seen (after a handshake when pinned by fingerprint). */
    public X509Certificate caCertificate() {
        return pinnedCa;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the coordinator presented no certificate");
        }
        X509Certificate ca = pinnedCa;
        if (ca == null) {
            for (X509Certificate c : chain) {
                if (Fingerprints.of(c).equals(pinnedFingerprint)) {
                    ca = c;
                }
            }
            if (ca == null) {
                throw notIssuedByPinnedCa(chain[0], "no CA certificate in its chain has the pinned fingerprint " + Fingerprints.display(pinnedFingerprint)
                        + "; wrong coordinator address, wrong --ca-fingerprint, or");
            }
        }
        if (!CertificateVerifier.issuedBy(chain[0], ca)) {
            throw notIssuedByPinnedCa(chain[0], "the pinned CA " + Fingerprints.display(pinnedFingerprint) + " did not sign it; another server, or");
        }
        try {
            CertificateVerifier.verify(chain[0], ca, clock.instant(), CertificateVerifier.Purpose.SERVER);
        } catch (CertificateRejectedException e) {
            throw new CertificateException("coordinator certificate refused: " + e.getMessage(), e);
        }
        pinnedCa = ca;
    }

    private static PinnedCaMismatchException notIssuedByPinnedCa(X509Certificate presented, String why) {
        return new PinnedCaMismatchException("the coordinator's certificate was not issued by the pinned CA (it names '"
                + presented.getSubjectX500Principal().getName() + "', issued by '" + presented.getIssuerX500Principal().getName() + "'): " + why
                + " a TLS-inspecting proxy on the way, which presents its own certificate; CA pinning refuses such a proxy by design,"
                + " so exempt the coordinator from TLS inspection there");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("an agent does not accept client connections");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        X509Certificate ca = pinnedCa;
        return ca == null ? new X509Certificate[0] : new X509Certificate[] {ca};
    }
}
