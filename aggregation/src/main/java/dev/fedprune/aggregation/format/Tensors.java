package dev.fedprune.aggregation.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Conversions between raw little-endian tensor bytes and float arrays. */
public final class Tensors {
    private Tensors() {
    }

    public static float[] toFloats(ByteBuffer raw, DType dtype, int count) {
        ByteBuffer in = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[count];
        switch (dtype) {
            case F32 -> in.asFloatBuffer().get(out);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = DType.halfToFloat(in.getShort());
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = DType.bf16ToFloat(in.getShort());
                }
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) in.getDouble();
                }
            }
            default -> throw new FormatException("cannot read dtype " + dtype + " as floats");
        }
        return out;
    }

    /** Encodes floats as little-endian bytes of the given floating-point dtype. */
    public static byte[] fromFloats(float[] values, DType dtype) {
        ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(values.length, dtype.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> out.asFloatBuffer().put(values);
            case F16 -> {
                for (float v : values) {
                    out.putShort(DType.floatToHalf(v));
                }
            }
            case BF16 -> {
                for (float v : values) {
                    out.putShort(DType.floatToBf16(v));
                }
            }
            case F64 -> {
                for (float v : values) {
                    out.putDouble(v);
                }
            }
            default -> throw new FormatException("cannot write floats as dtype " + dtype);
        }
        return out.array();
    }
}
