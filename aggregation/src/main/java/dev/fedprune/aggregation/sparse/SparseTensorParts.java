package dev.fedprune.aggregation.sparse;

import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.Varints;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The two byte fields of a wire {@code SparseTensor} message (fedprune.v1): indices as ascending
 * delta-coded varints (the first index, then each gap) and values as little-endian F32. Decoding
 * rejects truncated or trailing bytes, repeated, unsorted or out-of-range indices and NaN or infinite
 * values, naming the tensor and position.
 */
public final class SparseTensorParts {

    private SparseTensorParts() {
    }

    public static byte[] indices(SparseTensor tensor) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(tensor.nonZeroCount() * 2 + 4);
        int previous = 0;
        int[] indices = tensor.indices();
        for (int i = 0; i < indices.length; i++) {
            Varints.write(out, i == 0 ? indices[i] : indices[i] - previous);
            previous = indices[i];
        }
        return out.toByteArray();
    }

    public static byte[] values(SparseTensor tensor) {
        ByteBuffer out = ByteBuffer.allocate(tensor.nonZeroCount() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : tensor.values()) {
            out.putFloat(v);
        }
        return out.array();
    }

    /**
     * @param field what to name in errors, e.g. {@code sparse_update.tensors[conv0.weight]}
     * @throws FormatException naming {@code field} and the position of the first problem
     */
    public static SparseTensor decode(String field, long size, long count, byte[] indexBytes, byte[] valueBytes) {
        if (size < 0 || size > Integer.MAX_VALUE) {
            throw new FormatException(field + ": size " + size + " outside [0, " + Integer.MAX_VALUE + "]");
        }
        if (count < 0 || count > size) {
            throw new FormatException(field + ": num_values " + count + " for a tensor of " + size + " elements");
        }
        if (valueBytes.length != count * 4) {
            throw new FormatException(field + ": values hold " + valueBytes.length + " bytes, expected " + count * 4 + " (F32 for " + count + " values)");
        }
        int n = (int) count;
        Varints.Reader in = new Varints.Reader(indexBytes, field);
        int[] indices = new int[n];
        long index = -1;
        for (int i = 0; i < n; i++) {
            long delta = in.readVarint("index delta " + i);
            if (i > 0 && delta == 0) {
                throw new FormatException(field + ": index " + index + " repeated at position " + i);
            }
            index = i == 0 ? delta : index + delta;
            if (delta >= size || index >= size) {
                throw new FormatException(field + ": index " + index + " at position " + i + " is out of range [0, " + size + ")");
            }
            indices[i] = (int) index;
        }
        in.requireEnd();
        ByteBuffer raw = ByteBuffer.wrap(valueBytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = raw.getFloat();
            if (!Float.isFinite(values[i])) {
                throw new FormatException(field + ": value " + values[i] + " at index " + indices[i] + " (position " + i + ") is not finite");
            }
        }
        return new SparseTensor(size, indices, values);
    }
}
