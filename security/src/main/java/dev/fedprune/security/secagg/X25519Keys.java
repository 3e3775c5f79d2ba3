package dev.fedprune.security.secagg;

import dev.fedprune.security.InvalidSecurityInputException;
import java.security.SecureRandom;
import java.util.Arrays;
import org.bouncycastle.math.ec.rfc7748.X25519;

/**
 * Raw X25519 (RFC 7748) keys as 32-byte strings, the form in which they are advertised, secret-shared
 * and reconstructed. Bouncy Castle's low-level implementation is used because the JDK's XDH keys hide
 * the raw scalar behind key specs.
 */
public record X25519Keys(byte[] privateKey, byte[] publicKey) {
    public static final int KEY_BYTES = X25519.SCALAR_SIZE;

    public X25519Keys {
        privateKey = privateKey.clone();
        publicKey = publicKey.clone();
    }

    public static X25519Keys generate(SecureRandom random) {
        byte[] sk = new byte[KEY_BYTES];
        X25519.generatePrivateKey(random, sk);
        return fromPrivateKey(sk);
    }

    public static X25519Keys fromPrivateKey(byte[] privateKey) {
        if (privateKey.length != KEY_BYTES) {
            throw new IllegalArgumentException("an X25519 private key has " + KEY_BYTES + " bytes, not " + privateKey.length);
        }
        byte[] pk = new byte[KEY_BYTES];
        X25519.generatePublicKey(privateKey, 0, pk, 0);
        return new X25519Keys(privateKey, pk);
    }

    /**
     * X25519(sk, peerPublicKey).
     *
     * @throws InvalidSecurityInputException for a peer key of the wrong size or of small order (all-zero result)
     */
    public static byte[] agree(byte[] privateKey, byte[] peerPublicKey, String peer) {
        if (peerPublicKey == null || peerPublicKey.length != KEY_BYTES) {
            throw new InvalidSecurityInputException("public key of " + peer, "is not a 32-byte X25519 key");
        }
        byte[] shared = new byte[KEY_BYTES];
        if (!X25519.calculateAgreement(privateKey, 0, peerPublicKey, 0, shared, 0)) {
            throw new InvalidSecurityInputException("public key of " + peer, "is a small-order point; no shared secret");
        }
        return shared;
    }

    @Override
    public byte[] privateKey() {
        return privateKey.clone();
    }

    @Override
    public byte[] publicKey() {
        return publicKey.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof X25519Keys k && Arrays.equals(k.privateKey, privateKey) && Arrays.equals(k.publicKey, publicKey);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(publicKey);
    }

    @Override
    public String toString() {
        return "X25519Keys[public=" + java.util.HexFormat.of().formatHex(publicKey) + "]";
    }
}
