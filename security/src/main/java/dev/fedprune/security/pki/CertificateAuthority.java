package dev.fedprune.security.pki;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The coordinator's own certificate authority: a self-signed P-256 root that certifies the
 * coordinator's TLS server key, its signing key, and each enrolled agent's key. Every site trusts
 * it by its fingerprint, so adding a site never re-keys another.
 */
public final class CertificateAuthority {
    /** Backdating absorbs small clock differences between coordinator and agents. */
    private static final Duration BACKDATE = Duration.ofMinutes(5);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final PrivateKey key;
    private final X509Certificate certificate;

    public CertificateAuthority(PrivateKey key, X509Certificate certificate) {
        this.key = key;
        this.certificate = certificate;
    }

    /** A new root with a fresh key. */
    public static CertificateAuthority create(String commonName, Instant now, Duration validity) {
        KeyPair keys = KeyPairs.generate();
        X500Name subject = name(commonName);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(validity)), subject, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new CertificateAuthority(keys.getPrivate(), sign(b, keys.getPrivate()));
        } catch (java.security.NoSuchAlgorithmException | CertIOException e) {
            throw new IllegalStateException("cannot create the CA certificate", e);
        }
    }

    public X509Certificate certificate() {
        return certificate;
    }

    public PrivateKey privateKey() {
        return key;
    }

    public String fingerprint() {
        return Fingerprints.of(certificate);
    }

    /** The coordinator's TLS server certificate, with the host names and addresses agents dial. */
    public X509Certificate issueServer(PublicKey subjectKey, List<String> dnsNamesOrAddresses, Instant now, Duration validity) {
        List<GeneralName> names = new ArrayList<>();
        for (String n : dnsNamesOrAddresses) {
            names.add(new GeneralName(n.matches("[0-9.]+|.*:.*") ? GeneralName.iPAddress : GeneralName.dNSName, n));
        }
        return issue(name("FedPrune coordinator"), subjectKey, now, validity, KeyUsage.digitalSignature | KeyUsage.keyAgreement,
                KeyPurposeId.id_kp_serverAuth, names.isEmpty() ? null : new GeneralNames(names.toArray(GeneralName[]::new)));
    }

    /** The key the coordinator signs task manifests and artifacts with. */
    public X509Certificate issueSigning(PublicKey subjectKey, Instant now, Duration validity) {
        return issue(name("FedPrune coordinator signing"), subjectKey, now, validity, KeyUsage.digitalSignature, KeyPurposeId.id_kp_codeSigning, null);
    }

    /** An agent's client certificate; the agent id is the subject's common name. */
    public X509Certificate issueAgent(PublicKey subjectKey, String agentId, Instant now, Duration validity) {
        return issue(name(agentId), subjectKey, now, validity, KeyUsage.digitalSignature, KeyPurposeId.id_kp_clientAuth, null);
    }

    private X509Certificate issue(X500Name subject, PublicKey subjectKey, Instant now, Duration validity, int keyUsage,
                                  KeyPurposeId purpose, GeneralNames altNames) {
        Instant notAfter = now.plus(validity);
        if (notAfter.isAfter(certificate.getNotAfter().toInstant())) {
            notAfter = certificate.getNotAfter().toInstant(); // never outlive the CA
        }
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(notAfter), subject, subjectKey)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(keyUsage))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            if (altNames != null) {
                b.addExtension(Extension.subjectAlternativeName, false, altNames);
            }
            return sign(b, key);
        } catch (java.security.NoSuchAlgorithmException | CertIOException | CertificateException e) {
            throw new IllegalStateException("cannot issue a certificate for " + subject, e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(KeyPairs.SIGNATURE_ALGORITHM).build(signer)));
        } catch (OperatorCreationException | CertificateException e) {
            throw new IllegalStateException("cannot sign a certificate", e);
        }
    }

    private static X500Name name(String commonName) {
        return new X500Name("CN=" + commonName.replaceAll("[^A-Za-z0-9 ._-]", "_") + ",O=FedPrune");
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }
}
