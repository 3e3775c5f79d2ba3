package dev.fedprune.security.pki;

import dev.fedprune.security.InvalidSecurityInputException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/**
 * SHA-256 fingerprints of certificates and keys, as 64 lowercase hex digits. Input fingerprints may
 * be written with colons or spaces and in any case ({@code AB:CD:...}), as tools print them.
 */
public final class Fingerprints {
    private Fingerprints() {
    }

    public static String of(X509Certificate certificate) {
        try {
            return sha256Hex(certificate.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("certificate cannot be encoded", e);
        }
    }

    public static String of(PublicKey key) {
        return sha256Hex(key.getEncoded());
    }

    /** The fingerprint in canonical form; refuses anything that is not 32 bytes of hex. */
    public static String normalize(String fingerprint, String field) {
        if (fingerprint == null) {
            throw new InvalidSecurityInputException(field, "required: the SHA-256 fingerprint of the coordinator's CA");
        }
        String hex = fingerprint.replace(":", "").replace(" ", "").toLowerCase();
        if (hex.startsWith("sha256/")) {
            hex = hex.substring(7);
        }
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new InvalidSecurityInputException(field, "not a SHA-256 fingerprint (64 hex digits, colons allowed): '" + abbreviate(fingerprint) + "'");
        }
        return hex;
    }

    /** The fingerprint as operators read it: upper case, byte pairs separated by colons. */
    public static String display(String fingerprint) {
        String hex = normalize(fingerprint, "fingerprint").toUpperCase();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < hex.length(); i += 2) {
            if (i > 0) {
                out.append(':');
            }
            out.append(hex, i, i + 2);
        }
        return out.toString();
    }

    static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
