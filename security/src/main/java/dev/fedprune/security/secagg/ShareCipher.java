package dev.fedprune.security.secagg;

import dev.fedprune.security.InvalidSecurityInputException;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for share envelopes. The key comes from {@link RoundSecrets#shareKey}, which is different
 * for every (job, round, sender, receiver), and each key seals exactly one envelope, so a fixed all-zero
 * nonce is safe. The sender and receiver indices are authenticated as associated data.
 */
final class ShareCipher {
    private static final int TAG_BITS = 128;

    private ShareCipher() {
    }

    static byte[] seal(byte[] key, int from, int to, byte[] plaintext) {
        try {
            return cipher(Cipher.ENCRYPT_MODE, key, from, to).doFinal(plaintext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-256-GCM failed", e);
        }
    }

    static byte[] open(byte[] key, int from, int to, byte[] ciphertext, String what) {
        try {
            return cipher(Cipher.DECRYPT_MODE, key, from, to).doFinal(ciphertext);
        } catch (AEADBadTagException e) {
            throw new InvalidSecurityInputException(what, "does not decrypt with the key agreed with its sender");
        } catch (GeneralSecurityException e) {
            throw new InvalidSecurityInputException(what, "cannot be decrypted: " + e.getMessage(), e);
        }
    }

    private static Cipher cipher(int mode, byte[] key, int from, int to) throws GeneralSecurityException {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, new byte[12]));
        c.updateAAD(new byte[] {(byte) (from >>> 24), (byte) (from >>> 16), (byte) (from >>> 8), (byte) from, (byte) (to >>> 24), (byte) (to >>> 16),
                (byte) (to >>> 8), (byte) to});
        return c;
    }
}
