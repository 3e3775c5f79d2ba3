package dev.fedprune.aggregation.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    static final float[] VALUES = {0, 1, -2.5f, 3.25f, 65504, -0.0001f};

    Path writeThree() throws IOException {
        Path file = dir.resolve("model.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {2, 3}),
                new SafetensorsWriter.Entry("b", DType.F16, new long[] {6}),
                new SafetensorsWriter.Entry("c", DType.BF16, new long[] {3, 2}));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, entries, Map.of("format", "pt"))) {
            w.write("a", VALUES);
            w.write("b", VALUES);
            w.write("c", VALUES);
        }
        return file;
    }

    @Test
    void writtenTensorsReadBackWithTheirDtypeShapeAndValues() throws IOException {
        Path file = writeThree();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("a", "b", "c"), List.copyOf(f.tensors().keySet()));
            assertEquals("pt", f.metadata().get("format"));
            assertArrayEquals(new long[] {2, 3}, f.info("a").shape());
            assertEquals(DType.F16, f.info("b").dtype());
            assertArrayEquals(VALUES, f.floats("a"));
            float[] half = f.floats("b");
            float[] bf16 = f.floats("c");
            for (int i = 0; i < VALUES.length; i++) {
                assertEquals(DType.halfToFloat(DType.floatToHalf(VALUES[i])), half[i]);
                assertEquals(VALUES[i], bf16[i], Math.abs(VALUES[i]) / 128 + 1e-30);
            }
            assertEquals(Digests.sha256Hex(Tensors.fromFloats(VALUES, DType.F32)), f.sha256("a"));
        }
    }

    @Test
    void truncatedFileIsRejectedNamingTheTensor() throws IOException {
        Path file = writeThree();
        byte[] all = Files.readAllBytes(file);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(all, all.length - 1));
        FormatException e = assertThrows(FormatException.class, () -> SafetensorsFile.open(cut));
        assertTrue(e.getMessage().contains("tensor 'c'") && e.getMessage().contains("truncated"), e.getMessage());
        Files.write(cut, Arrays.copyOf(all, 5));
        assertThrows(FormatException.class, () -> SafetensorsFile.open(cut));
    }

    @Test
    void badHeaderIsRejected() throws IOException {
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, withHeader("{not json"));
        assertTrue(assertThrows(FormatException.class, () -> SafetensorsFile.open(bad)).getMessage().contains("not valid JSON"));
        Files.write(bad, withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4));
        assertTrue(assertThrows(FormatException.class, () -> SafetensorsFile.open(bad)).getMessage().contains("need 8"));
        Files.write(bad, withHeader("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(assertThrows(FormatException.class, () -> SafetensorsFile.open(bad)).getMessage().contains("unsupported dtype"));
        byte[] hugeLength = new byte[16];
        ByteBuffer.wrap(hugeLength).order(ByteOrder.LITTLE_ENDIAN).putLong(1 << 20);
        Files.write(bad, hugeLength);
        assertTrue(assertThrows(FormatException.class, () -> SafetensorsFile.open(bad)).getMessage().contains("header length"));
    }

    @Test
    void writerRejectsTensorsOutOfOrderAndLeavesNoFile() throws IOException {
        Path file = dir.resolve("partial.safetensors");
        List<SafetensorsWriter.Entry> entries = List.of(
                new SafetensorsWriter.Entry("a", DType.F32, new long[] {2}),
                new SafetensorsWriter.Entry("b", DType.F32, new long[] {2}));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, entries, Map.of())) {
            assertThrows(IllegalArgumentException.class, () -> w.write("b", new float[] {1, 2}));
        }
        assertFalse(Files.exists(file));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "no temporary file left behind");
        }
    }

    static byte[] withHeader(String json) {
        return withHeader(json, 0);
    }

    static byte[] withHeader(String json, int dataBytes) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(header.length).put(header);
        return out.array();
    }

    @Test
    void tensorWrittenInPartsEqualsTheTensorWrittenWhole() throws IOException {
        List<SafetensorsWriter.Entry> entries = List.of(new SafetensorsWriter.Entry("a", DType.F32, new long[] {6}),
                new SafetensorsWriter.Entry("b", DType.BF16, new long[] {6}));
        Path whole = dir.resolve("whole.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(whole, entries, Map.of())) {
            w.write("a", VALUES);
            w.write("b", VALUES);
        }
        Path parts = dir.resolve("parts.safetensors");
        byte[] a = Tensors.fromFloats(VALUES, DType.F32);
        try (SafetensorsWriter w = SafetensorsWriter.create(parts, entries, Map.of())) {
            w.writePart("a", ByteBuffer.wrap(a, 0, 8));
            w.writePart("a", ByteBuffer.wrap(a, 8, 16));
            assertThrows(IllegalArgumentException.class, () -> w.writePart("a", ByteBuffer.wrap(new byte[4])), "more bytes than declared");
        }
        assertFalse(Files.exists(parts), "a refused part leaves nothing behind");
        try (SafetensorsWriter w = SafetensorsWriter.create(parts, entries, Map.of())) {
            w.writePart("a", ByteBuffer.wrap(a, 0, 8));
            w.writePart("a", ByteBuffer.wrap(a, 8, 16));
            w.writePart("b", ByteBuffer.wrap(Tensors.fromFloats(VALUES, DType.BF16)));
        }
        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(parts));
    }

    @Test
    void floatsEncodedInSlicesAndTensorsCopiedFromACheckpointEqualWholeRawWrites() throws IOException {
        float[] big = new float[(1 << 16) * 2 + 17]; // three slices of floats
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) Math.sin(i) * 100;
        }
        List<SafetensorsWriter.Entry> entries = List.of(new SafetensorsWriter.Entry("big", DType.BF16, new long[] {big.length}),
                new SafetensorsWriter.Entry("small", DType.F16, new long[] {6}));
        Path raw = Files.createDirectories(dir.resolve("raw")).resolve(Checkpoint.SINGLE);
        try (SafetensorsWriter w = SafetensorsWriter.create(raw, entries, Map.of("format", "pt"))) {
            w.write("big", ByteBuffer.wrap(Tensors.fromFloats(big, DType.BF16)));
            w.write("small", ByteBuffer.wrap(Tensors.fromFloats(VALUES, DType.F16)));
        }
        Path sliced = dir.resolve("sliced.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(sliced, entries, Map.of("format", "pt"))) {
            w.write("big", big);
            w.write("small", VALUES);
        }
        assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(sliced));
        Path copied = dir.resolve("copied.safetensors");
        try (Checkpoint source = Checkpoint.open(raw.getParent());
             SafetensorsWriter w = SafetensorsWriter.create(copied, entries, Map.of("format", "pt"))) {
            w.copy("big", source);
            w.copy("small", source);
        }
        assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(copied));
        Path fromFile = dir.resolve("from-file.safetensors");
        try (SafetensorsFile source = SafetensorsFile.open(raw);
             SafetensorsWriter w = SafetensorsWriter.create(fromFile, entries, Map.of("format", "pt"))) {
            w.copy("big", source);
            w.copy("small", source);
        }
        assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(fromFile));
        Path refused = dir.resolve("refused.safetensors");
        try (Checkpoint source = Checkpoint.open(raw.getParent());
             SafetensorsWriter w = SafetensorsWriter.create(refused, entries, Map.of())) {
            assertThrows(IllegalArgumentException.class, () -> w.copy("small", source), "out of order");
        }
        assertFalse(Files.exists(refused));
    }

    @Test
    void aRangeOfElementsReadsAsTheSameSliceOfTheWholeTensor() throws IOException {
        float[] big = new float[(1 << 19) + 77]; // more than one 1 MiB read buffer of BF16
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) Math.cos(i) * 10;
        }
        Path file = Files.createDirectories(dir.resolve("ranged")).resolve(Checkpoint.SINGLE);
        try (SafetensorsWriter w = SafetensorsWriter.create(file,
                List.of(new SafetensorsWriter.Entry("w", DType.BF16, new long[] {big.length / 7 + 1, 7})), Map.of())) {
            w.write("w", Arrays.copyOf(big, (big.length / 7 + 1) * 7));
        }
        try (Checkpoint c = Checkpoint.open(file.getParent())) {
            float[] whole = c.readFloats("w");
            for (long[] range : new long[][] {{0, 5}, {3, 1 << 19}, {whole.length - 9, 9}, {whole.length, 0}}) {
                int from = (int) range[0];
                assertArrayEquals(Arrays.copyOfRange(whole, from, from + (int) range[1]), c.readFloats("w", from, (int) range[1]),
                        "elements from " + from);
            }
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> c.readFloats("w", whole.length - 3, 4));
            assertTrue(e.getMessage().contains("tensor 'w'"), e.getMessage());
        }
    }
}
