package dev.fedprune.security.sign;

import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.ReplayedNonceException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refuses a signed message whose nonce its signer already used. Nonces are random (128 bits or
 * more), so a legitimate signer never repeats one; a repeat is a replay of a captured message.
 */
public final class ReplayGuard {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final NonceStore store;

    public ReplayGuard(NonceStore store) {
        this.store = store;
    }

    /** A fresh nonce: 32 random bytes, base64url. */
    public static String newNonce() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Refuses nonces too short to be random or with characters outside base64url. */
    public static void checkFormat(String nonce, String field) {
        if (nonce == null || nonce.isEmpty()) {
            throw new InvalidSecurityInputException(field, "required: a random nonce (at least 16 base64url characters)");
        }
        if (nonce.length() < 16 || nonce.length() > 128 || !nonce.matches("[A-Za-z0-9_-]+")) {
            throw new InvalidSecurityInputException(field, "must be 16 to 128 base64url characters, got " + nonce.length() + " characters");
        }
    }

    /** Early check without recording, e.g. when an upload begins. */
    public void checkUnused(String signer, String nonce, String field) {
        checkFormat(nonce, field);
        if (store.wasUsed(signer, nonce)) {
            throw new ReplayedNonceException(field + ": nonce already used by " + signer + "; the message is a replay");
        }
    }

    /** Records the nonce as used, atomically; throws when it was used before. */
    public void consume(String signer, String nonce, String context, long atMillis, String field) {
        checkFormat(nonce, field);
        if (!store.recordFirstUse(signer, nonce, context, atMillis)) {
            throw new ReplayedNonceException(field + ": nonce already used by " + signer + "; the message is a replay");
        }
    }

    /** Nonces in memory, for tests and single-process simulations. */
    public static final class InMemory implements NonceStore {
        private final Map<String, Long> used = new ConcurrentHashMap<>();

        @Override
        public boolean recordFirstUse(String signer, String nonce, String context, long atMillis) {
            return used.putIfAbsent(signer + "\n" + nonce, atMillis) == null;
        }

        @Override
        public boolean wasUsed(String signer, String nonce) {
            return used.containsKey(signer + "\n" + nonce);
        }
    }
}
