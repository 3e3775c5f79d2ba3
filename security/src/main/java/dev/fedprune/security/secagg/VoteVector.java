package dev.fedprune.security.secagg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * A mask vote as integers mod 2^k, one k-bit field per weight, packed tightly little-endian into
 * {@code long} words (field i occupies bits [i*k, i*k+k) of the bit stream; a field may straddle two
 * words). Sums of masked vectors wrap mod 2^k, which is what lets pairwise masks cancel; k is chosen so
 * that the sum of all agents' 0/1 votes never wraps.
 *
 * <p>Addition and subtraction run on whole words (SWAR with the carry blocked at each field's top bit
 * and passed on only where a field straddles a word boundary), so no loop visits single weights.
 * Instances are mutable: {@link #add} and {@link #subtract} change this vector.
 */
public final class VoteVector {
    /** Field widths above this are not needed for any realistic agent count. */
    public static final int MAX_FIELD_BITS = 32;

    private final int length;
    private final int fieldBits;
    private final long[] words;
    private final long[] highBits;

    private VoteVector(int length, int fieldBits, long[] words) {
        this.length = length;
        this.fieldBits = fieldBits;
        this.words = words;
        this.highBits = highBitPattern(fieldBits);
    }

    /** The smallest k such that 0..agentCount (every possible vote count) fits in k bits. */
    public static int fieldBitsFor(int agentCount) {
        if (agentCount < 1) {
            throw new IllegalArgumentException("agent count must be at least 1, not " + agentCount);
        }
        return 32 - Integer.numberOfLeadingZeros(agentCount);
    }

    public static VoteVector zeros(int length, int fieldBits) {
        checkShape(length, fieldBits);
        return new VoteVector(length, fieldBits, new long[wordCount(length, fieldBits)]);
    }

    /** Field i is 1 where bit i of {@code maskBits} (word i/64, bit i%64) is set, else 0. */
    public static VoteVector fromMask(long[] maskBits, int length, int fieldBits) {
        VoteVector v = zeros(length, fieldBits);
        if (maskBits.length != (length + 63) >>> 6) {
            throw new IllegalArgumentException("a mask of " + length + " weights has " + ((length + 63) >>> 6) + " words, not " + maskBits.length);
        }
        if ((length & 63) != 0 && maskBits[maskBits.length - 1] >>> (length & 63) != 0) {
            throw new IllegalArgumentException("mask has bits set beyond its " + length + " weights");
        }
        if (fieldBits <= 8) {
            v.depositBytes(maskBits);
            return v;
        }
        for (int w = 0; w < maskBits.length; w++) {
            long bits = maskBits[w];
            while (bits != 0) {
                long offset = (((long) w << 6) + Long.numberOfTrailingZeros(bits)) * fieldBits;
                v.words[(int) (offset >>> 6)] |= 1L << (offset & 63);
                bits &= bits - 1;
            }
        }
        return v;
    }

    /** Spreads the mask a byte (8 weights, 8k <= 64 output bits) at a time through a 256-entry table. */
    private void depositBytes(long[] maskBits) {
        long[] spread = new long[256];
        for (int b = 1; b < 256; b++) {
            for (int t = 0; t < 8; t++) {
                if ((b >>> t & 1) != 0) {
                    spread[b] |= 1L << (t * fieldBits);
                }
            }
        }
        long bitsPerByte = 8L * fieldBits;
        for (int w = 0; w < maskBits.length; w++) {
            long word = maskBits[w];
            for (int q = 0; word != 0; q++, word >>>= 8) {
                int value = (int) (word & 0xFF);
                if (value != 0) {
                    long offset = ((long) w * 8 + q) * bitsPerByte;
                    int i = (int) (offset >>> 6);
                    int shift = (int) (offset & 63);
                    words[i] |= spread[value] << shift;
                    if (shift != 0 && shift + bitsPerByte > 64) {
                        words[i + 1] |= spread[value] >>> (64 - shift);
                    }
                }
            }
        }
    }

    /** Reads the packed little-endian bit stream written by {@link #toBytes}. */
    public static VoteVector fromBytes(byte[] bytes, int length, int fieldBits) {
        VoteVector v = zeros(length, fieldBits);
        if (bytes.length != v.byteCount()) {
            throw new IllegalArgumentException(length + " fields of " + fieldBits + " bits take " + v.byteCount() + " bytes, not " + bytes.length);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int w = 0; w < v.words.length; w++) {
            long word = 0;
            for (int b = 0; b < 8 && in.hasRemaining(); b++) {
                word |= (in.get() & 0xFFL) << (8 * b);
            }
            v.words[w] = word;
        }
        if (v.words.length > 0 && (v.words[v.words.length - 1] & ~v.lastWordMask()) != 0) {
            throw new IllegalArgumentException("padding bits after the last field are not zero");
        }
        return v;
    }

    /** The sum mod 2^k of vectors of one shape. */
    public static VoteVector sum(List<VoteVector> vectors) {
        if (vectors.isEmpty()) {
            throw new IllegalArgumentException("the sum of no vectors has no shape");
        }
        VoteVector total = zeros(vectors.get(0).length, vectors.get(0).fieldBits);
        vectors.forEach(total::add);
        return total;
    }

    public int length() {
        return length;
    }

    public int fieldBits() {
        return fieldBits;
    }

    /** Bytes of the packed form: ceil(length * k / 8). */
    public long byteCount() {
        return ((long) length * fieldBits + 7) >>> 3;
    }

    public long get(int index) {
        if (index < 0 || index >= length) {
            throw new IndexOutOfBoundsException("field " + index + " of " + length);
        }
        long offset = (long) index * fieldBits;
        int w = (int) (offset >>> 6);
        int b = (int) (offset & 63);
        long v = words[w] >>> b;
        if (b + fieldBits > 64) {
            v |= words[w + 1] << (64 - b);
        }
        return v & fieldMask();
    }

    /** this += other mod 2^k, field by field; returns this. */
    public VoteVector add(VoteVector other) {
        checkSameShape(other);
        addWords(other.words, 0, 0, words.length, 0);
        return this;
    }

    /** this -= other mod 2^k, field by field; returns this. */
    public VoteVector subtract(VoteVector other) {
        checkSameShape(other);
        subtractWords(other.words, 0, 0, words.length, 0);
        return this;
    }

    public VoteVector copy() {
        return new VoteVector(length, fieldBits, words.clone());
    }

    public byte[] toBytes() {
        long count = byteCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(count + " bytes do not fit one array");
        }
        ByteBuffer out = ByteBuffer.allocate((int) count).order(ByteOrder.LITTLE_ENDIAN);
        for (long word : words) {
            for (int b = 0; b < 8 && out.hasRemaining(); b++) {
                out.put((byte) (word >>> (8 * b)));
            }
        }
        return out.array();
    }

    int wordCount() {
        return words.length;
    }

    /**
     * Adds {@code count} packed words of {@code src} (from {@code srcFrom}) into this vector's words
     * starting at {@code dstFrom}, with {@code carryIn} (0 or 1) entering bit 0 of the first word; returns
     * the carry out of the last word, to pass to the next call when a stream is added in chunks.
     *
     * <p>Per word: the low bits of every field are added with the top bit of each field masked off, so no
     * carry crosses a field boundary inside the word, and the top bits are then set by XOR. A carry leaves
     * a word only where a field straddles into the next word; it enters there below that field's top bit
     * and stops at it (k <= 32 < 64), so it never reaches the next carry out. Hence each word's carry out
     * depends on that word's inputs alone and is computed without branches. Bits past the last field are
     * cleared.
     */
    long addWords(long[] src, int srcFrom, int dstFrom, int count, long carryIn) {
        int period = highBits.length;
        int phase = dstFrom % period;
        long carry = carryIn;
        for (int j = 0; j < count; j++) {
            long h = highBits[phase];
            long x = words[dstFrom + j];
            long y = src[srcFrom + j];
            long a = x & ~h;
            long b = y & ~h;
            long s = a + b;
            words[dstFrom + j] = (s + carry) ^ ((x ^ y) & h);
            carry = ((a & b) | ((a | b) & ~s)) >>> 63;
            if (++phase == period) {
                phase = 0;
            }
        }
        clearPaddingIfTouched(dstFrom + count);
        return carry;
    }

    /** As {@link #addWords}, subtracting; returns the borrow out of the last word (it too stops at the straddling field's top bit). */
    long subtractWords(long[] src, int srcFrom, int dstFrom, int count, long borrowIn) {
        int period = highBits.length;
        int phase = dstFrom % period;
        long borrow = borrowIn;
        for (int j = 0; j < count; j++) {
            long h = highBits[phase];
            long x = words[dstFrom + j];
            long y = src[srcFrom + j];
            long a = x | h;
            long b = y & ~h;
            long d = a - b;
            words[dstFrom + j] = (d - borrow) ^ ((x ^ ~y) & h);
            borrow = ((~a & b) | (~(a ^ b) & d)) >>> 63;
            if (++phase == period) {
                phase = 0;
            }
        }
        clearPaddingIfTouched(dstFrom + count);
        return borrow;
    }

    private void clearPaddingIfTouched(int endWord) {
        if (endWord == words.length && endWord > 0) {
            words[endWord - 1] &= lastWordMask();
        }
    }

    private long lastWordMask() {
        int used = (int) (((long) length * fieldBits) & 63);
        return used == 0 ? -1L : (1L << used) - 1;
    }

    private long fieldMask() {
        return fieldBits == 64 ? -1L : (1L << fieldBits) - 1;
    }

    /** For each word phase, the bits that are the top bit of some field; the pattern repeats every k/gcd(k,64) words. */
    private static long[] highBitPattern(int k) {
        int period = k / gcd(k, 64);
        long[] pattern = new long[period];
        for (long bit = k - 1; bit < 64L * period; bit += k) {
            pattern[(int) (bit >>> 6)] |= 1L << (bit & 63);
        }
        return pattern;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    private static int wordCount(int length, int fieldBits) {
        long words = ((long) length * fieldBits + 63) >>> 6;
        if (words > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(length + " fields of " + fieldBits + " bits do not fit one array");
        }
        return (int) words;
    }

    private static void checkShape(int length, int fieldBits) {
        if (length < 0) {
            throw new IllegalArgumentException("length must not be negative: " + length);
        }
        if (fieldBits < 1 || fieldBits > MAX_FIELD_BITS) {
            throw new IllegalArgumentException("field width must be 1.." + MAX_FIELD_BITS + " bits, not " + fieldBits);
        }
    }

    private void checkSameShape(VoteVector other) {
        if (other.length != length || other.fieldBits != fieldBits) {
            throw new IllegalArgumentException("vectors differ in shape: " + length + " x " + fieldBits + " bits vs " + other.length + " x "
                    + other.fieldBits + " bits");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VoteVector v && v.length == length && v.fieldBits == fieldBits && Arrays.equals(v.words, words);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * length + fieldBits) + Arrays.hashCode(words);
    }

    @Override
    public String toString() {
        return "VoteVector[" + length + " x " + fieldBits + " bits]";
    }
}
