package dev.fedprune.security.secagg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The pseudorandom generator that expands a 32-byte seed into a mask of k-bit fields.
 *
 * <p>Definition (what another implementation must reproduce): the keystream of AES-256 in CTR mode with
 * key = seed and a 16-byte all-zero initial counter block (incremented as one big-endian 128-bit integer),
 * read as little-endian 64-bit words, is the packed field stream of {@link VoteVector}: field i is bits
 * [i*k, i*k+k) of it; bits after the last field are dropped. Since packing is tight, one mask costs
 * ceil(n*k/8) keystream bytes. Each seed is used for exactly one stream, so the fixed counter block is
 * safe. The JDK's AES-CTR uses AES-NI where the CPU has it.
 */
public final class MaskPrg {
    public static final int SEED_BYTES = 32;
    private static final int CHUNK_WORDS = 8192;

    private MaskPrg() {
    }

    /** The mask PRG(seed) as a vector of the given shape. */
    public static VoteVector expand(byte[] seed, int length, int fieldBits) {
        VoteVector v = VoteVector.zeros(length, fieldBits);
        addTo(v, seed);
        return v;
    }

    /** target += PRG(seed) mod 2^k, streamed in chunks without materialising the mask. */
    public static void addTo(VoteVector target, byte[] seed) {
        apply(target, seed, true);
    }

    /** target -= PRG(seed) mod 2^k. */
    public static void subtractFrom(VoteVector target, byte[] seed) {
        apply(target, seed, false);
    }

    private static void apply(VoteVector target, byte[] seed, boolean add) {
        Cipher cipher = keystream(seed);
        byte[] zeros = new byte[CHUNK_WORDS * 8];
        byte[] stream = new byte[CHUNK_WORDS * 8];
        long[] words = new long[CHUNK_WORDS];
        int total = target.wordCount();
        long carry = 0;
        for (int done = 0; done < total; ) {
            int count = Math.min(CHUNK_WORDS, total - done);
            try {
                cipher.update(zeros, 0, count * 8, stream, 0);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES-CTR keystream failed", e);
            }
            ByteBuffer.wrap(stream, 0, count * 8).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(words, 0, count);
            carry = add ? target.addWords(words, 0, done, count, carry) : target.subtractWords(words, 0, done, count, carry);
            done += count;
        }
    }

    private static Cipher keystream(byte[] seed) {
        if (seed == null || seed.length != SEED_BYTES) {
            throw new IllegalArgumentException("a mask seed has " + SEED_BYTES + " bytes, not " + (seed == null ? "none" : seed.length));
        }
        try {
            Cipher cipher = Cipher.getInstance("AES/CTR/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(seed, "AES"), new IvParameterSpec(new byte[16]));
            return cipher;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JVM has no AES-256/CTR", e);
        }
    }
}
