package dev.fedprune.agent.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small IDX files for tests. */
final class IdxFiles {
    private IdxFiles() {
    }

    static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(magic);
        for (int d : dims) {
            out.writeInt(d);
        }
        out.write(data);
        out.flush();
        return bytes.toByteArray();
    }

    static Path write(Path file, byte[] content, boolean gzip) throws IOException {
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
            out.write(content);
        }
        return file;
    }

    /** {@code count} images of {@code side×side} with pixel {@code (i + r + c) mod 256} and labels {@code i mod classes}. */
    static void writeDataset(Path dir, String prefix, int count, int side, int classes) throws IOException {
        byte[] pixels = new byte[count * side * side];
        for (int i = 0; i < count; i++) {
            for (int r = 0; r < side; r++) {
                for (int c = 0; c < side; c++) {
                    pixels[(i * side + r) * side + c] = (byte) (i + r + c);
                }
            }
        }
        byte[] labels = new byte[count];
        for (int i = 0; i < count; i++) {
            labels[i] = (byte) (i % classes);
        }
        write(dir.resolve(prefix + "-images-idx3-ubyte.gz"), idx(IdxReader.IMAGES_MAGIC, new int[] {count, side, side}, pixels), true);
        write(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), idx(IdxReader.LABELS_MAGIC, new int[] {count}, labels), true);
    }
}
