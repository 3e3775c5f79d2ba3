package dev.fedprune.security.secagg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** Deterministic random integers from a 32-byte seed (the AES-256-CTR keystream of {@link MaskPrg}), for seeded choices every party must repeat. */
final class SeededStream {
    private final Cipher cipher;
    private final ByteBuffer block = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);

    SeededStream(byte[] seed) {
        if (seed == null || seed.length != MaskPrg.SEED_BYTES) {
            throw new IllegalArgumentException("a seed has " + MaskPrg.SEED_BYTES + " bytes");
        }
        try {
            cipher = Cipher.getInstance("AES/CTR/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(seed, "AES"), new IvParameterSpec(new byte[16]));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JVM has no AES-256/CTR", e);
        }
        block.position(16);
    }

    long nextLong() {
        if (block.remaining() < 8) {
            block.clear();
            block.put(cipher.update(new byte[16]));
            block.flip();
        }
        return block.getLong();
    }

    /** Uniform in [0, bound). */
    int nextInt(int bound) {
        long biased = (Long.remainderUnsigned(-1L, bound) + 1) % bound; // 2^64 mod bound values at the top would favour small results
        long r;
        do {
            r = nextLong();
        } while (Long.compareUnsigned(r, -1L - biased) > 0);
        return (int) Long.remainderUnsigned(r, bound);
    }
}
