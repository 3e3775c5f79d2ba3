package dev.fedprune.security.pki;

import dev.fedprune.security.InvalidSecurityInputException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * PEM text for certificates, CSRs and private keys, as they travel on the wire and sit in an agent's
 * work directory. Parsing failures become {@link InvalidSecurityInputException} naming the field.
 */
public final class Pem {
    private static final int MAX_PEM_CHARS = 64 * 1024;

    private Pem() {
    }

    public static String write(Object certificateCsrOrKey) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(out)) {
            if (certificateCsrOrKey instanceof PrivateKey key) {
                // PKCS#8 ("PRIVATE KEY") keeps the curve in the algorithm identifier; the legacy "EC PRIVATE KEY" form does not round-trip through the JDK.
                pem.writeObject(new JcaPKCS8Generator(key, null));
            } else {
                pem.writeObject(certificateCsrOrKey);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot PEM-encode " + certificateCsrOrKey.getClass().getSimpleName(), e);
        }
        return out.toString();
    }

    public static X509Certificate certificate(String pem, String field) {
        List<X509Certificate> certs = certificates(pem, field);
        if (certs.size() != 1) {
            throw new InvalidSecurityInputException(field, "expected one PEM certificate, found " + certs.size());
        }
        return certs.get(0);
    }

    /** Every certificate in the text, in order (a chain: leaf first). */
    public static List<X509Certificate> certificates(String pem, String field) {
        List<X509Certificate> out = new ArrayList<>();
        for (Object o : objects(pem, field)) {
            if (!(o instanceof X509CertificateHolder holder)) {
                throw new InvalidSecurityInputException(field, "expected PEM certificates, found " + describe(o));
            }
            try {
                out.add(new JcaX509CertificateConverter().getCertificate(holder));
            } catch (CertificateException e) {
                throw new InvalidSecurityInputException(field, "not a valid X.509 certificate: " + e.getMessage(), e);
            }
        }
        if (out.isEmpty()) {
            throw new InvalidSecurityInputException(field, "no PEM certificate found");
        }
        return out;
    }

    public static PKCS10CertificationRequest csr(String pem, String field) {
        List<Object> objects = objects(pem, field);
        if (objects.size() != 1 || !(objects.get(0) instanceof PKCS10CertificationRequest csr)) {
            throw new InvalidSecurityInputException(field, "expected one PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----), found "
                    + (objects.isEmpty() ? "nothing" : describe(objects.get(0))));
        }
        return csr;
    }

    public static PrivateKey privateKey(String pem, String field) {
        List<Object> objects = objects(pem, field);
        if (objects.size() != 1) {
            throw new InvalidSecurityInputException(field, "expected one PEM private key, found " + objects.size() + " objects");
        }
        try {
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            Object o = objects.get(0);
            if (o instanceof PrivateKeyInfo info) {
                return converter.getPrivateKey(info);
            }
            if (o instanceof PEMKeyPair pair) {
                return converter.getPrivateKey(pair.getPrivateKeyInfo());
            }
            throw new InvalidSecurityInputException(field, "expected a PEM private key, found " + describe(o));
        } catch (IOException e) {
            throw new InvalidSecurityInputException(field, "unreadable private key: " + e.getMessage(), e);
        }
    }

    private static List<Object> objects(String pem, String field) {
        if (pem == null || pem.isBlank()) {
            throw new InvalidSecurityInputException(field, "required (PEM text)");
        }
        if (pem.length() > MAX_PEM_CHARS) {
            throw new InvalidSecurityInputException(field, "PEM text of " + pem.length() + " characters is longer than " + MAX_PEM_CHARS);
        }
        List<Object> out = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
                out.add(o);
            }
        } catch (IOException | RuntimeException e) {
            // PEMParser throws IOException subtypes and, on corrupt DER, runtime exceptions from the ASN.1 layer.
            throw new InvalidSecurityInputException(field, "malformed PEM: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new InvalidSecurityInputException(field, "no PEM block found");
        }
        return out;
    }

    private static String describe(Object o) {
        return o instanceof X509CertificateHolder ? "a certificate" : o instanceof PKCS10CertificationRequest ? "a certificate request"
                : o instanceof PrivateKeyInfo || o instanceof PEMKeyPair ? "a private key" : o.getClass().getSimpleName();
    }
}
