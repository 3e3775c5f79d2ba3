package dev.fedprune.security.pki;

import dev.fedprune.security.CertificateRejectedException;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/**
 * Checks that a certificate was issued by the coordinator's CA, is within its validity and is meant
 * for the purpose it is used for. Each refusal says exactly why, for the caller and the audit log.
 */
public final class CertificateVerifier {
    /** What a certificate may be used for, as its extended key usage says. */
    public enum Purpose {
        CLIENT("1.3.6.1.5.5.7.3.2", "an agent (client) certificate"),
        SERVER("1.3.6.1.5.5.7.3.1", "a TLS server certificate"),
        SIGNING("1.3.6.1.5.5.7.3.3", "a signing certificate");

        final String oid;
        final String label;

        Purpose(String oid, String label) {
            this.oid = oid;
            this.label = label;
        }
    }

    private CertificateVerifier() {
    }

    public static void verify(X509Certificate leaf, X509Certificate ca, Instant now, Purpose purpose) {
        if (!leaf.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' was issued by '" + leaf.getIssuerX500Principal().getName()
                    + "', not by this coordinator's CA");
        }
        try {
            leaf.verify(ca.getPublicKey());
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' does not verify with this coordinator's CA key (another CA with the same name?)");
        }
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' expired at " + leaf.getNotAfter().toInstant());
        }
        if (now.isBefore(leaf.getNotBefore().toInstant())) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' is not valid before " + leaf.getNotBefore().toInstant());
        }
        List<String> usages;
        try {
            usages = leaf.getExtendedKeyUsage();
        } catch (CertificateParsingException e) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' has an unreadable extended key usage");
        }
        if (usages == null || !usages.contains(purpose.oid)) {
            throw new CertificateRejectedException("certificate of '" + commonName(leaf) + "' is not " + purpose.label);
        }
    }

    /** Whether {@code ca} issued {@code leaf}: names the CA as issuer and its signature verifies with the CA's key. */
    public static boolean issuedBy(X509Certificate leaf, X509Certificate ca) {
        if (!leaf.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
            return false;
        }
        try {
            leaf.verify(ca.getPublicKey());
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    /** The subject's common name: an agent's id for client certificates. */
    public static String commonName(X509Certificate certificate) {
        X500Principal p = certificate.getSubjectX500Principal();
        RDN[] cn = X500Name.getInstance(p.getEncoded()).getRDNs(BCStyle.CN);
        return cn.length == 0 ? "" : IETFUtils.valueToString(cn[0].getFirst().getValue());
    }

    /** The serial number as lowercase hex, the way the coordinator stores it. */
    public static String serialHex(X509Certificate certificate) {
        return certificate.getSerialNumber().toString(16);
    }
}
