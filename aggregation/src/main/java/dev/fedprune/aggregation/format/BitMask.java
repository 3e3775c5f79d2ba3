package dev.fedprune.aggregation.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A fixed-length bit set over the flat row-major indices of one tensor. Bit {@code i} lives in word
 * {@code i >>> 6} at position {@code i & 63} (least significant first); bits past the length are zero.
 * The wire form ({@link #toBytes()}) writes the words little-endian, so byte {@code b} holds bits
 * {@code 8b .. 8b+7}. For prune masks a set bit means "remove this weight".
 */
public final class BitMask {
    private final long length;
    private final long[] words;

    public BitMask(long length) {
        if (length < 0) {
            throw new IllegalArgumentException("negative mask length " + length);
        }
        this.length = length;
        this.words = new long[Math.toIntExact((length + 63) >>> 6)];
    }

    private BitMask(long length, long[] words) {
        this.length = length;
        this.words = words;
    }

    /** Wraps words without copying; the caller hands over ownership. Bits past the length must be zero. */
    public static BitMask wrap(long length, long[] words) {
        if (words.length != (length + 63) >>> 6) {
            throw new IllegalArgumentException("mask of " + length + " bits needs " + ((length + 63) >>> 6) + " words, got " + words.length);
        }
        BitMask mask = new BitMask(length, words);
        if (mask.hasBitsPastLength()) {
            throw new IllegalArgumentException("mask has bits set past its length " + length);
        }
        return mask;
    }

    public long length() {
        return length;
    }

    /** The backing words; writes through. */
    public long[] words() {
        return words;
    }

    public boolean get(long index) {
        checkIndex(index);
        return (words[(int) (index >>> 6)] & (1L << index)) != 0;
    }

    public void set(long index) {
        checkIndex(index);
        words[(int) (index >>> 6)] |= 1L << index;
    }

    public void set(long index, boolean value) {
        checkIndex(index);
        if (value) {
            words[(int) (index >>> 6)] |= 1L << index;
        } else {
            words[(int) (index >>> 6)] &= ~(1L << index);
        }
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= length) {
            throw new IndexOutOfBoundsException("bit " + index + " of a mask of " + length);
        }
    }

    public long cardinality() {
        long count = 0;
        for (long w : words) {
            count += Long.bitCount(w);
        }
        return count;
    }

    /** Number of set bits in {@code [from, to)}. */
    public long cardinality(long from, long to) {
        long count = 0;
        for (long i = from; i < to; i++) {
            if ((words[(int) (i >>> 6)] & (1L << i)) != 0) {
                count++;
            }
        }
        return count;
    }

    /** Number of positions where this mask and the other differ. */
    public long hammingDistance(BitMask other) {
        if (other.length != length) {
            throw new IllegalArgumentException("masks of " + length + " and " + other.length + " bits");
        }
        long d = 0;
        for (int i = 0; i < words.length; i++) {
            d += Long.bitCount(words[i] ^ other.words[i]);
        }
        return d;
    }

    public byte[] toBytes() {
        int byteCount = Math.toIntExact((length + 7) >>> 3);
        ByteBuffer out = ByteBuffer.allocate(words.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        out.asLongBuffer().put(words);
        byte[] all = out.array();
        return byteCount == all.length ? all : java.util.Arrays.copyOf(all, byteCount);
    }

    /** Decodes {@link #toBytes()}; exactly {@code ceil(length / 8)} bytes, no bits past the length. */
    public static BitMask fromBytes(long length, byte[] data) {
        long expected = (length + 7) >>> 3;
        if (data.length != expected) {
            throw new FormatException("mask of " + length + " weights must be " + expected + " bytes, got " + data.length);
        }
        long[] words = new long[Math.toIntExact((length + 63) >>> 6)];
        ByteBuffer in = ByteBuffer.wrap(java.util.Arrays.copyOf(data, words.length * 8)).order(ByteOrder.LITTLE_ENDIAN);
        in.asLongBuffer().get(words);
        BitMask mask = new BitMask(length, words);
        if (mask.hasBitsPastLength()) {
            throw new FormatException("mask of " + length + " weights has bits set past its length");
        }
        return mask;
    }

    private boolean hasBitsPastLength() {
        int tail = (int) (length & 63);
        return tail != 0 && (words[words.length - 1] >>> tail) != 0;
    }

    public BitMask copy() {
        return new BitMask(length, words.clone());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BitMask m && m.length == length && java.util.Arrays.equals(m.words, words);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(words) * 31 + Long.hashCode(length);
    }

    @Override
    public String toString() {
        return "BitMask[" + length + " bits, " + cardinality() + " set]";
    }
}
