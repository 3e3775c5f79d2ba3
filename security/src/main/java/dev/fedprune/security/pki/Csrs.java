package dev.fedprune.security.pki;

import dev.fedprune.security.InvalidSecurityInputException;
import java.security.KeyPair;
import java.security.PublicKey;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Certificate signing requests. An agent builds one with the key it generated locally; the
 * coordinator accepts it only when its self-signature verifies with the key it carries (proof that
 * the requester holds that private key) and the key is P-256.
 */
public final class Csrs {
    private Csrs() {
    }

    /** A PEM CSR for the key pair; the subject is informative only, the CA chooses the certified name. */
    public static String create(KeyPair keys, String subjectCommonName) {
        try {
            String cn = subjectCommonName.replaceAll("[^A-Za-z0-9 ._-]", "_");
            PKCS10CertificationRequest csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + cn), keys.getPublic())
                    .build(new JcaContentSignerBuilder(KeyPairs.SIGNATURE_ALGORITHM).build(keys.getPrivate()));
            return Pem.write(csr);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("cannot sign a certificate request", e);
        }
    }

    /** Parses and checks a PEM CSR; returns the public key it proves possession of. */
    public static PublicKey verify(String pem, String field) {
        PKCS10CertificationRequest csr = Pem.csr(pem, field);
        PublicKey key;
        try {
            key = new JcaPKCS10CertificationRequest(csr).getPublicKey();
        } catch (Exception e) {
            // getPublicKey declares only the JCA exceptions, but a corrupt SubjectPublicKeyInfo surfaces as runtime exceptions too.
            throw new InvalidSecurityInputException(field, "unreadable public key in the certificate request: " + e.getMessage(), e);
        }
        if (!KeyPairs.isP256(key)) {
            throw new InvalidSecurityInputException(field, "the certificate request's key is " + key.getAlgorithm() + ", expected EC P-256");
        }
        boolean valid;
        try {
            valid = csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key));
        } catch (OperatorCreationException | PKCSException | RuntimeException e) {
            throw new InvalidSecurityInputException(field, "the certificate request's signature cannot be checked: " + e.getMessage(), e);
        }
        if (!valid) {
            throw new InvalidSecurityInputException(field, "the certificate request is not signed by the key it carries (no proof of possession)");
        }
        return key;
    }
}
