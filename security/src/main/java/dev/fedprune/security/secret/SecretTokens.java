package dev.fedprune.security.secret;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Bearer secrets handed to people and scripts: enrollment tokens and API tokens. They carry 256
 * random bits, so a plain SHA-256 is a sufficient at-rest hash (a slow KDF is for low-entropy
 * passwords); only the hash is stored, and lookups are by hash.
 */
public final class SecretTokens {
    public static final String ENROLLMENT_PREFIX = "fpe_";
    public static final String API_PREFIX = "fpa_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private SecretTokens() {
    }

    public static String generate(String prefix) {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** True when the text has the shape of a token with this prefix (cheap filter before any lookup). */
    public static boolean looksLike(String token, String prefix) {
        return token != null && token.startsWith(prefix) && token.length() == prefix.length() + 43
                && token.substring(prefix.length()).matches("[A-Za-z0-9_-]+");
    }
}
