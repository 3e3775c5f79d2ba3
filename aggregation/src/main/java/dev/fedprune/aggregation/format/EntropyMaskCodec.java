package dev.fedprune.aggregation.format;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Entropy-coded masks: the positions of the minority bit value, as Golomb-Rice coded gaps. For an
 * i.i.d. mask with minority fraction {@code p} the gaps are geometric, for which Rice codes come within
 * a few percent of the entropy {@code H(p)}: at 90% sparsity about 0.48 bits per weight (bound 0.469),
 * at 70% about 0.89 (bound 0.881). Cost is linear in the number of minority bits, not in the length.
 *
 * <h2>Format (version 1)</h2>
 * <pre>
 * byte    version      = 1
 * byte    coded symbol : 1 = the coded positions are the set bits (all others clear),
 *                        0 = the coded positions are the clear bits (all others set)
 * byte    k            : Rice parameter, 0..62
 * varint  length       : mask length in bits (unsigned LEB128)
 * varint  n            : number of coded positions
 * bits    n Rice codes : for the i-th coded position x_i (strictly ascending, x_{-1} = -1) the gap
 *                        g = x_i - x_{i-1} - 1 is written as q = g >>> k one-bits, one zero-bit, then
 *                        the k low bits of g, least significant first
 * </pre>
 * Bit order of the bit stream: stream bit {@code j} is bit {@code j & 7} (least significant first) of
 * the {@code j >>> 3}-th byte after the varints. The last byte is padded with zero bits; nothing follows.
 * Decoding rejects, with the offending field and byte: a wrong version or symbol, k over 62, a length
 * other than expected, n over the length, a position past the length, a stream that ends early,
 * non-zero padding and trailing bytes.
 */
public final class EntropyMaskCodec {
    static final int VERSION = 1;
    private static final String SOURCE = "entropy-coded mask";

    private EntropyMaskCodec() {
    }

    /**
     * Exact encoded size in bytes, with the best Rice parameter among five around {@code log2} of the
     * mean gap; one pass over the minority bits (a histogram of the gaps).
     */
    public static long encodedSize(BitMask mask) {
        Plan plan = plan(mask);
        return plan.bytes;
    }

    public static byte[] encode(BitMask mask) {
        return write(mask, plan(mask));
    }

    /**
     * The encoding when it is strictly smaller than {@code limitBytes}, else null. A cheap lower bound on
     * the Rice stream (each code takes at least {@code k + 1} bits and the quotients sum to at least
     * {@code gaps / 2^k - n}) skips the sizing pass when the mask provably cannot win (an exactly
     * half-dense mask); otherwise the size is computed exactly before anything is written.
     */
    public static byte[] encodeIfSmaller(BitMask mask, long limitBytes) {
        if (lowerBoundBytes(mask) >= limitBytes) {
            return null;
        }
        Plan plan = plan(mask);
        return plan.bytes < limitBytes ? write(mask, plan) : null;
    }

    static long lowerBoundBytes(BitMask mask) {
        long length = mask.length();
        long ones = mask.cardinality();
        boolean symbol = ones <= length - ones;
        long count = symbol ? ones : length - ones;
        long header = 3 + Varints.size(length) + Varints.size(count);
        if (count == 0) {
            return header;
        }
        long gaps = lastMinorityPosition(mask, symbol) + 1 - count;
        long best = Long.MAX_VALUE;
        for (int k = 0; k <= 62; k++) {
            long bits = count * (k + 1) + Math.max(0, (gaps >>> k) - count);
            best = Math.min(best, bits);
        }
        return header + best / 8;
    }

    private static long lastMinorityPosition(BitMask mask, boolean symbol) {
        long[] words = mask.words();
        for (int w = words.length - 1; w >= 0; w--) {
            long bits = minorityBits(mask, words, w, symbol);
            if (bits != 0) {
                return ((long) w << 6) + 63 - Long.numberOfLeadingZeros(bits);
            }
        }
        return -1;
    }

    private static byte[] write(BitMask mask, Plan plan) {
        byte[] out = new byte[Math.toIntExact(plan.bytes)];
        out[0] = VERSION;
        out[1] = (byte) (plan.symbol ? 1 : 0);
        out[2] = (byte) plan.k;
        int pos = Varints.write(out, 3, mask.length());
        pos = Varints.write(out, pos, plan.count);
        BitWriter writer = new BitWriter(out, pos);
        int k = plan.k;
        long lowMask = (1L << k) - 1;
        long previous = -1;
        long[] words = mask.words();
        for (int w = 0; w < words.length; w++) {
            long bits = minorityBits(mask, words, w, plan.symbol);
            while (bits != 0) {
                long position = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
                long gap = position - previous - 1;
                writer.writeOnes(gap >>> k);
                writer.writeBits(0, 1);
                writer.writeBits(gap & lowMask, k);
                previous = position;
                bits &= bits - 1;
            }
        }
        writer.finish();
        return out;
    }

    /**
     * @param expectedLength the mask length the message declares; must match the encoded one
     */
    public static BitMask decode(long expectedLength, byte[] data) {
        Varints.Reader in = new Varints.Reader(data, SOURCE);
        int version = in.readByte("version");
        if (version != VERSION) {
            throw new FormatException(SOURCE + ": version " + version + " at byte 0, expected " + VERSION);
        }
        int symbol = in.readByte("coded symbol");
        if (symbol > 1) {
            throw new FormatException(SOURCE + ": coded symbol " + symbol + " at byte 1, expected 0 or 1");
        }
        int k = in.readByte("Rice parameter");
        if (k > 62) {
            throw new FormatException(SOURCE + ": Rice parameter " + k + " at byte 2, expected 0..62");
        }
        long length = in.readVarint("length");
        if (length != expectedLength) {
            throw new FormatException(SOURCE + ": length " + length + " bits, expected " + expectedLength);
        }
        long count = in.readVarint("count");
        if (count > length) {
            throw new FormatException(SOURCE + ": " + count + " coded positions for a mask of " + length + " bits");
        }
        BitMask mask = new BitMask(length);
        long[] words = mask.words();
        if (symbol == 0) {
            java.util.Arrays.fill(words, -1L);
            if ((length & 63) != 0) {
                words[words.length - 1] = -1L >>> (64 - (length & 63));
            }
        }
        BitReader reader = new BitReader(data, in.position());
        long previous = -1;
        for (long i = 0; i < count; i++) {
            long q = reader.readUnary(i);
            long gap = (q << k) | reader.readBits(k, i);
            if (q > (Long.MAX_VALUE >>> k) || gap >= length - previous - 1) {
                throw new FormatException(SOURCE + ": coded position " + i + " (gap " + gap + " after " + previous
                        + ") lies past the mask length " + length + " (near byte " + reader.bytePosition() + ")");
            }
            long position = previous + 1 + gap;
            words[(int) (position >>> 6)] ^= 1L << position;
            previous = position;
        }
        reader.finish();
        return mask;
    }

    private static long minorityBits(BitMask mask, long[] words, int w, boolean symbol) {
        if (symbol) {
            return words[w];
        }
        long bits = ~words[w];
        if (w == words.length - 1 && (mask.length() & 63) != 0) {
            bits &= -1L >>> (64 - (mask.length() & 63));
        }
        return bits;
    }

    private record Plan(boolean symbol, int k, long count, long bytes) {
    }

    private static Plan plan(BitMask mask) {
        long ones = mask.cardinality();
        long length = mask.length();
        boolean symbol = ones <= length - ones;
        long count = symbol ? ones : length - ones;
        long header = 3 + Varints.size(length) + Varints.size(count);
        if (count == 0) {
            return new Plan(symbol, 0, 0, header);
        }
        // Best Rice parameter near log2 of the mean gap; exact stream sizes for a few candidates.
        double meanGap = (double) (length - count) / count;
        int center = meanGap < 1 ? 0 : (int) Math.round(Math.log(meanGap * Math.log(2)) / Math.log(2));
        int lowK = Math.max(0, center - 2);
        int highK = Math.min(62, Math.max(lowK, center + 2));
        long[] streamBits = new long[highK - lowK + 1];
        // Small gaps (nearly all of them) go into a histogram, one increment each; costs per k at the end.
        long[] histogram = new long[1024];
        long[] words = mask.words();
        long previous = -1;
        for (int w = 0; w < words.length; w++) {
            long bits = minorityBits(mask, words, w, symbol);
            while (bits != 0) {
                long position = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
                long gap = position - previous - 1;
                if (gap < histogram.length) {
                    histogram[(int) gap]++;
                } else {
                    for (int k = lowK; k <= highK; k++) {
                        streamBits[k - lowK] += (gap >>> k) + 1 + k;
                    }
                }
                previous = position;
                bits &= bits - 1;
            }
        }
        for (int gap = 0; gap < histogram.length; gap++) {
            if (histogram[gap] != 0) {
                for (int k = lowK; k <= highK; k++) {
                    streamBits[k - lowK] += histogram[gap] * ((gap >>> k) + 1 + k);
                }
            }
        }
        int bestK = lowK;
        for (int k = lowK; k <= highK; k++) {
            if (streamBits[k - lowK] < streamBits[bestK - lowK]) {
                bestK = k;
            }
        }
        return new Plan(symbol, bestK, count, header + (streamBits[bestK - lowK] + 7) / 8);
    }

    /** LSB-first bit writer into a preallocated array. */
    private static final class BitWriter {
        private final byte[] out;
        private int pos;
        private long buffer;
        private int filled;

        BitWriter(byte[] out, int pos) {
            this.out = out;
            this.pos = pos;
        }

        void writeBits(long value, int count) {
            if (count == 0) {
                return;
            }
            if (filled + count > 64) {
                int first = 64 - filled;
                writeBits(value & ((1L << first) - 1), first);
                writeBits(value >>> first, count - first);
                return;
            }
            buffer |= value << filled;
            filled += count;
            while (filled >= 8) {
                out[pos++] = (byte) buffer;
                buffer >>>= 8;
                filled -= 8;
            }
        }

        void writeOnes(long count) {
            while (count >= 32) {
                writeBits(0xFFFF_FFFFL, 32);
                count -= 32;
            }
            writeBits((1L << count) - 1, (int) count);
        }

        void finish() {
            if (filled > 0) {
                out[pos++] = (byte) buffer;
            }
            if (pos != out.length) {
                throw new IllegalStateException("entropy coder wrote " + pos + " bytes, planned " + out.length);
            }
        }
    }

    /**
     * LSB-first bit reader with precise errors for a stream that ends early. Refills 56+ bits at a time
     * with one little-endian 8-byte load while at least 8 bytes remain (the hot path of decoding).
     */
    private static final class BitReader {
        private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

        private final byte[] data;
        private int pos;
        private long buffer;
        private int available;

        BitReader(byte[] data, int pos) {
            this.data = data;
            this.pos = pos;
        }

        int bytePosition() {
            return pos;
        }

        private void refill() {
            if (available > 56) {
                return;
            }
            if (pos + 8 <= data.length) {
                long word = (long) LONG_LE.get(data, pos);
                buffer |= word << available; // available <= 56: keeps at least the low 8 bits of the word
                int bytes = (64 - available) >>> 3;
                pos += bytes;
                available += bytes << 3;
                if (available < 64) {
                    buffer &= -1L >>> (64 - available); // drop the bits of the byte not yet consumed
                }
                return;
            }
            while (available <= 56 && pos < data.length) {
                buffer |= (long) (data[pos++] & 0xFF) << available;
                available += 8;
            }
        }

        long readUnary(long index) {
            long q = 0;
            while (true) {
                refill();
                if (available == 0) {
                    throw truncated(index);
                }
                int ones = Long.numberOfTrailingZeros(~buffer);
                if (ones < available) {
                    q += ones;
                    buffer = ones == 63 ? 0 : buffer >>> (ones + 1);
                    available -= ones + 1;
                    return q;
                }
                q += available;
                buffer = 0;
                available = 0;
            }
        }

        long readBits(int count, long index) {
            if (count == 0) {
                return 0;
            }
            if (available < count) {
                refill();
                if (available < count) {
                    throw truncated(index);
                }
            }
            long value = buffer & ((1L << count) - 1);
            buffer = buffer >>> count;
            available -= count;
            return value;
        }

        private FormatException truncated(long index) {
            return new FormatException(SOURCE + ": truncated input: bit stream ends inside coded position " + index
                    + " (" + data.length + " bytes)");
        }

        void finish() {
            if (available >= 8) {
                throw new FormatException(SOURCE + ": " + (available / 8 + data.length - pos)
                        + " unexpected trailing bytes after the last coded position");
            }
            if (buffer != 0) {
                throw new FormatException(SOURCE + ": non-zero padding bits in the last byte");
            }
            if (pos != data.length) {
                throw new FormatException(SOURCE + ": " + (data.length - pos) + " unexpected trailing bytes after the last coded position");
            }
        }
    }
}
