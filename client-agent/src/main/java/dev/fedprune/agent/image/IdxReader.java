package dev.fedprune.agent.image;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the MNIST format: magic {@code 0x00 0x00 type ndim}, {@code ndim} big-endian
 * int32 dimensions, then the values), plain or gzip-compressed (recognised by the gzip magic, not by
 * the file name). Only unsigned bytes (type {@code 0x08}) are supported, which is what image and label
 * files use. Every problem is an {@link IdxFormatException} naming the file and the field.
 */
public final class IdxReader {
    public static final int UNSIGNED_BYTE = 0x08;
    /** Magic of an image file: unsigned bytes, 3 dimensions (count, rows, columns). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic of a label file: unsigned bytes, 1 dimension (count). */
    public static final int LABELS_MAGIC = 0x00000801;

    private IdxReader() {
    }

    /** Reads a file of unsigned bytes with exactly {@code expectedDimensions} dimensions. */
    public static IdxArray read(Path file, int expectedDimensions) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IdxFormatException(file, "file", "not a readable regular file");
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
            return read(file, new DataInputStream(in), expectedDimensions);
        } catch (ZipException | EOFException e) {
            if (e instanceof EOFException eof && eof.getMessage() != null && eof.getMessage().contains("ZLIB")) {
                throw new IdxFormatException(file, "gzip", "compressed stream is truncated", e);
            }
            throw new IdxFormatException(file, "gzip", "corrupt compressed stream: " + e.getMessage(), e);
        }
    }

    private static IdxArray read(Path file, DataInputStream in, int expectedDimensions) throws IOException {
        int magic = readInt(file, in, "magic");
        if ((magic >>> 16) != 0) {
            throw new IdxFormatException(file, "magic", String.format("0x%08x does not start with two zero bytes; not an IDX file", magic));
        }
        int type = (magic >>> 8) & 0xff;
        int ndim = magic & 0xff;
        if (type != UNSIGNED_BYTE) {
            throw new IdxFormatException(file, "magic", String.format("data type 0x%02x is not supported, expected 0x08 (unsigned byte)", type));
        }
        if (ndim != expectedDimensions) {
            throw new IdxFormatException(file, "magic", String.format("0x%08x declares %d dimensions, expected %d (magic 0x%08x)",
                    magic, ndim, expectedDimensions, (UNSIGNED_BYTE << 8) | expectedDimensions));
        }
        int[] dims = new int[ndim];
        long total = 1;
        for (int d = 0; d < ndim; d++) {
            dims[d] = readInt(file, in, "dimension " + d);
            if (dims[d] < 0 || (d > 0 && dims[d] == 0)) {
                throw new IdxFormatException(file, "dimension " + d, "size " + dims[d] + " is not valid");
            }
            total *= dims[d];
            if (total > Integer.MAX_VALUE - 8) {
                throw new IdxFormatException(file, "dimension " + d, "the file would hold more than 2^31 values");
            }
        }
        byte[] data = new byte[(int) total];
        int read = in.readNBytes(data, 0, data.length);
        if (read < data.length) {
            throw new IdxFormatException(file, "data", "truncated: dimensions " + java.util.Arrays.toString(dims) + " need " + data.length
                    + " bytes, the file ends after " + read);
        }
        long extra = 0;
        byte[] skip = new byte[8192];
        for (int n; (n = in.read(skip)) > 0; ) {
            extra += n;
        }
        if (extra > 0) {
            throw new IdxFormatException(file, "data", extra + " unexpected bytes after the " + data.length + " declared by dimensions "
                    + java.util.Arrays.toString(dims));
        }
        return new IdxArray(dims, data);
    }

    private static int readInt(Path file, DataInputStream in, String field) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new IdxFormatException(file, field, "truncated: the file ends inside the header", e);
        }
    }

    /** An image file: {@code count × rows × columns} unsigned bytes. */
    public static ImageSet readImages(Path file) throws IOException {
        IdxArray a = read(file, 3);
        int[] d = a.dimensions();
        return new ImageSet(d[0], d[1], d[2], a.data());
    }

    /** A label file: {@code count} unsigned bytes, each checked to lie below {@code classCount}. */
    public static byte[] readLabels(Path file, int classCount) throws IOException {
        byte[] labels = read(file, 1).data();
        for (int i = 0; i < labels.length; i++) {
            int label = labels[i] & 0xff;
            if (label >= classCount) {
                throw new IdxFormatException(file, "label " + i, "value " + label + " is not a class in [0, " + classCount + ")");
            }
        }
        return labels;
    }
}
