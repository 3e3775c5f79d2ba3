package dev.fedprune.security.secagg;

import java.math.BigInteger;
import java.nio.ByteBuffer;

/** One Shamir share (x, f(x)) of a 32-byte seed; x is the holder's 1-based position among the owner's neighbours. */
public record SeedShare(int x, BigInteger y) {
    /** Encoded size: a 4-byte x and y as 66 big-endian bytes (the field is 521 bits). */
    public static final int BYTES = 4 + 66;

    public SeedShare {
        if (x < 1) {
            throw new IllegalArgumentException("share points start at 1, not " + x);
        }
        if (y.signum() < 0 || y.compareTo(Shamir.PRIME) >= 0) {
            throw new IllegalArgumentException("share value is not a field element");
        }
    }

    public byte[] toBytes() {
        byte[] raw = y.toByteArray();
        byte[] fixed = new byte[BYTES - 4];
        int copy = Math.min(raw.length, fixed.length);
        System.arraycopy(raw, raw.length - copy, fixed, fixed.length - copy, copy);
        return ByteBuffer.allocate(BYTES).putInt(x).put(fixed).array();
    }

    public static SeedShare fromBytes(byte[] bytes) {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("a share has " + BYTES + " bytes, not " + bytes.length);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        int x = in.getInt();
        byte[] y = new byte[BYTES - 4];
        in.get(y);
        return new SeedShare(x, new BigInteger(1, y));
    }
}
