package dev.fedprune.aggregation.format;

import java.io.ByteArrayOutputStream;

/**
 * Unsigned LEB128 varints (7 bits per byte, least significant group first, high bit = more bytes),
 * as protobuf writes them, plus a cursor that reads them with precise errors for truncated input.
 */
public final class Varints {
    private Varints() {
    }

    public static int size(long value) {
        return value == 0 ? 1 : (63 - Long.numberOfLeadingZeros(value)) / 7 + 1;
    }

    public static void write(ByteArrayOutputStream out, long value) {
        while ((value & ~0x7FL) != 0) {
            out.write((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.write((int) value);
    }

    /** Writes into {@code out} at {@code pos}; returns the position after the varint. */
    public static int write(byte[] out, int pos, long value) {
        while ((value & ~0x7FL) != 0) {
            out[pos++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out[pos++] = (byte) value;
        return pos;
    }

    /** Reads bytes, varints and fixed-width little-endian values from an array, naming what it reads on error. */
    public static final class Reader {
        private final byte[] data;
        private final String source;
        private int position;

        public Reader(byte[] data, String source) {
            this.data = data;
            this.source = source;
        }

        public int position() {
            return position;
        }

        public int remaining() {
            return data.length - position;
        }

        public byte[] data() {
            return data;
        }

        public void skip(int bytes) {
            require(bytes, "data");
            position += bytes;
        }

        public int readByte(String field) {
            require(1, field);
            return data[position++] & 0xFF;
        }

        public long readVarint(String field) {
            long value = 0;
            int start = position;
            for (int shift = 0; ; shift += 7) {
                if (position >= data.length) {
                    throw new FormatException(source + ": truncated input: varint " + field + " at byte " + start
                            + " runs past the end (" + data.length + " bytes)");
                }
                int b = data[position++];
                if (shift == 63 && (b & 0x7E) != 0 || shift > 63) {
                    throw new FormatException(source + ": varint " + field + " at byte " + start + " exceeds 64 bits");
                }
                value |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return value;
                }
            }
        }

        /** Fails unless {@code bytes} more bytes are available. */
        public void require(long bytes, String field) {
            if (bytes > remaining()) {
                throw new FormatException(source + ": truncated input: " + field + " needs " + bytes + " bytes at byte "
                        + position + ", only " + remaining() + " left");
            }
        }

        public void requireEnd() {
            if (remaining() != 0) {
                throw new FormatException(source + ": " + remaining() + " unexpected trailing bytes after byte " + position);
            }
        }
    }
}
