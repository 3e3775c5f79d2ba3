package dev.fedprune.security.sign;

import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.KeyPairs;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;

/** ECDSA P-256 / SHA-256 signatures over the canonical statements of {@link Statements}. */
public final class Signatures {
    private static final int MAX_SIGNATURE_BYTES = 256;

    private Signatures() {
    }

    public static byte[] sign(PrivateKey key, byte[] statement) {
        try {
            Signature s = Signature.getInstance(KeyPairs.SIGNATURE_ALGORITHM);
            s.initSign(key);
            s.update(statement);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign with a " + key.getAlgorithm() + " key", e);
        }
    }

    /**
     * Verifies or throws; a signature that is empty, oversized or not even DER is refused the same way
     * as a wrong one, with what was wrong.
     *
     * @param what names the statement in the message, e.g. "contribution of task t-1"
     */
    public static void verify(PublicKey key, byte[] statement, byte[] signature, String what) {
        if (signature == null || signature.length == 0) {
            throw new SignatureRejectedException("signature: " + what + " is not signed");
        }
        if (signature.length > MAX_SIGNATURE_BYTES) {
            throw new SignatureRejectedException("signature: " + what + " carries a " + signature.length + "-byte signature, not an ECDSA P-256 signature");
        }
        boolean valid;
        try {
            Signature s = Signature.getInstance(KeyPairs.SIGNATURE_ALGORITHM);
            s.initVerify(key);
            s.update(statement);
            valid = s.verify(signature);
        } catch (java.security.SignatureException e) {
            throw new SignatureRejectedException("signature: " + what + " carries a malformed signature (" + e.getMessage() + ")");
        } catch (GeneralSecurityException e) {
            throw new SignatureRejectedException("signature: " + what + " cannot be checked with a " + key.getAlgorithm() + " key");
        }
        if (!valid) {
            throw new SignatureRejectedException("signature: " + what + " does not verify with the signer's key");
        }
    }
}
