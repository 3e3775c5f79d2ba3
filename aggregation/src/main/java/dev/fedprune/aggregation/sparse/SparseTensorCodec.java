package dev.fedprune.aggregation.sparse;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.Varints;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Wire form of a {@link SparseTensor}: delta-coded varint indices followed by the values.
 *
 * <h2>Format (version 1)</h2>
 * <pre>
 * byte    version = 1
 * byte    value dtype: 1 = F32, 2 = F16, 3 = BF16
 * varint  size      : element count of the dense tensor (unsigned LEB128)
 * varint  n         : number of entries
 * n varints         : the first index, then each index minus the previous one (at least 1)
 * n values          : little-endian, in the dtype's width
 * </pre>
 * Encoding rejects unsorted, repeated or out-of-range indices and NaN or infinite values (also values
 * that overflow F16). Decoding rejects the same, plus truncated input and trailing bytes, naming the
 * position.
 */
public final class SparseTensorCodec {
    static final int VERSION = 1;
    private static final String SOURCE = "sparse tensor";

    private SparseTensorCodec() {
    }

    public static byte[] encode(SparseTensor tensor, DType valueType) {
        int code = code(valueType);
        String problem = tensor.problem();
        if (problem != null) {
            throw new IllegalArgumentException(SOURCE + ": " + problem);
        }
        int n = tensor.nonZeroCount();
        ByteArrayOutputStream out = new ByteArrayOutputStream(8 + n * (2 + valueType.bytes()));
        out.write(VERSION);
        out.write(code);
        Varints.write(out, tensor.size());
        Varints.write(out, n);
        int previous = 0;
        for (int i = 0; i < n; i++) {
            int index = tensor.indices()[i];
            Varints.write(out, i == 0 ? index : index - previous);
            previous = index;
        }
        ByteBuffer values = ByteBuffer.allocate(n * valueType.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = tensor.values()[i];
            switch (valueType) {
                case F32 -> values.putFloat(v);
                case F16 -> {
                    short h = DType.floatToHalf(v);
                    if (!Float.isFinite(DType.halfToFloat(h))) {
                        throw new IllegalArgumentException(SOURCE + ": value " + v + " at index " + tensor.indices()[i]
                                + " (position " + i + ") overflows F16");
                    }
                    values.putShort(h);
                }
                default -> values.putShort(DType.floatToBf16(v));
            }
        }
        out.writeBytes(values.array());
        return out.toByteArray();
    }

    /** The value dtype of an encoded tensor, without decoding it. */
    public static DType valueType(byte[] data) {
        Varints.Reader in = new Varints.Reader(data, SOURCE);
        readVersion(in);
        return dtype(in.readByte("dtype"));
    }

    /**
     * @param expectedSize element count the tensor must have (from the manifest), or -1 for any
     * @throws FormatException naming the field and position of the first problem
     */
    public static SparseTensor decode(byte[] data, long expectedSize) {
        Varints.Reader in = new Varints.Reader(data, SOURCE);
        readVersion(in);
        DType dtype = dtype(in.readByte("dtype"));
        long size = in.readVarint("size");
        if (expectedSize >= 0 && size != expectedSize) {
            throw new FormatException(SOURCE + ": size " + size + ", expected " + expectedSize);
        }
        if (size > Integer.MAX_VALUE) {
            throw new FormatException(SOURCE + ": size " + size + " exceeds " + Integer.MAX_VALUE);
        }
        long count = in.readVarint("count");
        if (count > size) {
            throw new FormatException(SOURCE + ": " + count + " entries for a tensor of " + size + " elements");
        }
        // Every entry needs at least one index byte and its value bytes: fail before allocating.
        in.require(count * (1 + dtype.bytes()), count + " entries");
        int n = (int) count;
        int[] indices = new int[n];
        long index = -1;
        for (int i = 0; i < n; i++) {
            long delta = in.readVarint("index delta " + i);
            if (i > 0 && delta == 0) {
                throw new FormatException(SOURCE + ": indices not strictly ascending: index " + index + " repeated at position " + i);
            }
            index = i == 0 ? delta : index + delta;
            if (delta >= size || index >= size) {
                throw new FormatException(SOURCE + ": index " + index + " at position " + i + " is out of range [0, " + size + ")");
            }
            indices[i] = (int) index;
        }
        in.require((long) n * dtype.bytes(), "values");
        ByteBuffer raw = ByteBuffer.wrap(in.data(), in.position(), n * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            float v = switch (dtype) {
                case F32 -> raw.getFloat();
                case F16 -> DType.halfToFloat(raw.getShort());
                default -> DType.bf16ToFloat(raw.getShort());
            };
            if (!Float.isFinite(v)) {
                throw new FormatException(SOURCE + ": value " + v + " at index " + indices[i] + " (position " + i + ") is not finite");
            }
            values[i] = v;
        }
        in.skip(n * dtype.bytes());
        in.requireEnd();
        return new SparseTensor(size, indices, values);
    }

    private static void readVersion(Varints.Reader in) {
        int version = in.readByte("version");
        if (version != VERSION) {
            throw new FormatException(SOURCE + ": version " + version + " at byte 0, expected " + VERSION);
        }
    }

    private static int code(DType dtype) {
        return switch (dtype) {
            case F32 -> 1;
            case F16 -> 2;
            case BF16 -> 3;
            default -> throw new IllegalArgumentException(SOURCE + ": values must be F32, F16 or BF16, got " + dtype);
        };
    }

    private static DType dtype(int code) {
        return switch (code) {
            case 1 -> DType.F32;
            case 2 -> DType.F16;
            case 3 -> DType.BF16;
            default -> throw new FormatException(SOURCE + ": value dtype code " + code + " at byte 1, expected 1 (F32), 2 (F16) or 3 (BF16)");
        };
    }
}
