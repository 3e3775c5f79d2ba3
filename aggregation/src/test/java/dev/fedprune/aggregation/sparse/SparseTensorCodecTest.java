package dev.fedprune.aggregation.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.FormatException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class SparseTensorCodecTest {
    static final SparseTensor T = new SparseTensor(1000, new int[] {0, 3, 130, 999}, new float[] {1.5f, -2f, 0.1f, 300f});

    @Test
    void f32RoundTripIsExact() {
        assertEquals(T, SparseTensorCodec.decode(SparseTensorCodec.encode(T, DType.F32), 1000));
    }

    @Test
    void halfPrecisionRoundTripsToTheNearestRepresentableValue() {
        for (DType d : new DType[] {DType.F16, DType.BF16}) {
            byte[] data = SparseTensorCodec.encode(T, d);
            assertEquals(d, SparseTensorCodec.valueType(data));
            SparseTensor back = SparseTensorCodec.decode(data, 1000);
            assertArrayEquals(T.indices(), back.indices());
            for (int i = 0; i < T.values().length; i++) {
                float v = T.values()[i];
                float expected = d == DType.F16 ? DType.halfToFloat(DType.floatToHalf(v)) : DType.bf16ToFloat(DType.floatToBf16(v));
                assertEquals(expected, back.values()[i]);
            }
        }
    }

    @Test
    void indicesAreDeltaCodedVarints() {
        // version, dtype F32, size 1000 (0xE8 0x07), n 4, deltas 0, 3, 127, 869 (0xE5 0x06), then 16 value bytes
        byte[] data = SparseTensorCodec.encode(T, DType.F32);
        assertArrayEquals(new byte[] {1, 1, (byte) 0xE8, 0x07, 4, 0, 3, 127, (byte) 0xE5, 0x06}, Arrays.copyOf(data, 10));
        assertEquals(10 + 16, data.length);
    }

    @Test
    void emptyTensorRoundTrips() {
        SparseTensor empty = new SparseTensor(5, new int[0], new float[0]);
        assertEquals(empty, SparseTensorCodec.decode(SparseTensorCodec.encode(empty, DType.BF16), 5));
    }

    @Test
    void encodeRejectsUnsortedOutOfRangeAndNonFiniteEntries() {
        assertFragment(IllegalArgumentException.class, () -> SparseTensorCodec.encode(
                new SparseTensor(10, new int[] {4, 2}, new float[] {1, 1}), DType.F32), "strictly ascending: index 2 at position 1 follows 4");
        assertFragment(IllegalArgumentException.class, () -> SparseTensorCodec.encode(
                new SparseTensor(10, new int[] {4, 10}, new float[] {1, 1}), DType.F32), "index 10 at position 1 is out of range [0, 10)");
        assertFragment(IllegalArgumentException.class, () -> SparseTensorCodec.encode(
                new SparseTensor(10, new int[] {4}, new float[] {Float.NaN}), DType.F32), "value NaN at index 4");
        assertFragment(IllegalArgumentException.class, () -> SparseTensorCodec.encode(
                new SparseTensor(10, new int[] {4}, new float[] {1e6f}), DType.F16), "overflows F16");
    }

    @Test
    void decodeRejectsRepeatedAndOutOfRangeIndices() {
        byte[] repeated = {1, 1, 10, 2, 4, 0, 0, 0, (byte) 0x80, 0x3F, 0, 0, (byte) 0x80, 0x3F};
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(repeated, 10), "index 4 repeated at position 1");
        byte[] outOfRange = {1, 1, 10, 1, 10, 0, 0, (byte) 0x80, 0x3F};
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(outOfRange, 10), "index 10 at position 0 is out of range");
    }

    @Test
    void decodeRejectsNanAndInfiniteValues() {
        byte[] nan = {1, 1, 10, 1, 3, 0, 0, (byte) 0xC0, 0x7F};
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(nan, 10), "value NaN at index 3");
        byte[] inf = {1, 2, 10, 1, 3, 0x00, 0x7C};
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(inf, 10), "value Infinity at index 3");
    }

    @Test
    void decodeRejectsEveryTruncationAndTrailingBytes() {
        byte[] data = SparseTensorCodec.encode(T, DType.F16);
        for (int cut = 0; cut < data.length; cut++) {
            byte[] prefix = Arrays.copyOf(data, cut);
            assertFragment(FormatException.class, () -> SparseTensorCodec.decode(prefix, 1000), "truncated");
        }
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(Arrays.copyOf(data, data.length + 2), 1000), "2 unexpected trailing bytes");
    }

    @Test
    void decodeRejectsInconsistentHeader() {
        byte[] data = SparseTensorCodec.encode(T, DType.F32);
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(data, 999), "size 1000, expected 999");
        byte[] dtype = data.clone();
        dtype[1] = 9;
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(dtype, 1000), "value dtype code 9");
        byte[] version = data.clone();
        version[0] = 0;
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(version, 1000), "version 0");
        byte[] tooMany = {1, 1, 2, 3};
        assertFragment(FormatException.class, () -> SparseTensorCodec.decode(tooMany, 2), "3 entries for a tensor of 2");
    }

    @Test
    void denseConversionKeepsOnlyNonZeros() {
        SparseTensor s = SparseTensor.ofDense(new float[] {0, 2, 0, -1});
        assertArrayEquals(new int[] {1, 3}, s.indices());
        assertArrayEquals(new float[] {0, 2, 0, -1}, s.toDense());
    }

    static void assertFragment(Class<? extends Throwable> type, Executable call, String fragment) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
