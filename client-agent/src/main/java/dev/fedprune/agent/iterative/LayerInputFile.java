package dev.fedprune.agent.iterative;

import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.HiddenStates;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.FileChannels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * The on-disk form of kept hidden states, little-endian:
 * {@code "FPLI"}, version (int32 = 1), the {@link LayerInputKey#digest() key digest} (32 bytes), hidden size
 * (int32), sequence count n (int32), n token counts (int32), the float32 states sequence by sequence
 * ({@code [tokens, hidden]} row-major), and last the SHA-256 of every byte before it. A file is used only
 * when its size, key and checksum all agree (so a torn write needs no fsync to be caught); float32 written
 * and read back is bit-exact.
 */
final class LayerInputFile {
    private static final int MAGIC = 0x494c5046; // "FPLI" read little-endian
    private static final int VERSION = 1;
    private static final int DIGEST_BYTES = 32;
    private static final int FIXED_HEADER_BYTES = 4 + 4 + DIGEST_BYTES + 4 + 4;

    private LayerInputFile() {
    }

    static void write(Path file, LayerInputKey key, HiddenStates states) throws IOException {
        MessageDigest md = Digests.sha256();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            int n = states.size();
            ByteBuffer header = ByteBuffer.allocate(FIXED_HEADER_BYTES + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
            header.putInt(MAGIC).putInt(VERSION).put(key.digest()).putInt(states.hiddenSize()).putInt(n);
            for (int s = 0; s < n; s++) {
                header.putInt(Math.toIntExact(states.get(s).getShape().get(0)));
            }
            writeHashed(out, md, header.flip());
            for (int s = 0; s < n; s++) {
                float[] values = states.values(s);
                ByteBuffer data = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                data.asFloatBuffer().put(values);
                writeHashed(out, md, data);
            }
            writeFully(out, ByteBuffer.wrap(md.digest()));
        }
    }

    /**
     * Reads the states back onto the runtime's engine, checking everything before the caller gets them.
     *
     * @throws InvalidLayerInputFileException when the file is truncated, corrupted, or made under another key
     */
    static HiddenStates read(Path file, LayerInputKey key, DecoderRuntime runtime, int[] tokensPerSequence) throws IOException {
        int hidden = runtime.config().hiddenSize();
        MessageDigest md = Digests.sha256();
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = in.size();
            int n = tokensPerSequence.length;
            long expected = FIXED_HEADER_BYTES + 4L * n + DIGEST_BYTES + (long) Arrays.stream(tokensPerSequence).asLongStream().sum() * hidden * Float.BYTES;
            if (size != expected) {
                throw new InvalidLayerInputFileException(file, size + " bytes where " + n + " sequences of their lengths take " + expected + " (truncated or of other data)");
            }
            ByteBuffer header = readHashed(in, md, FIXED_HEADER_BYTES + 4 * n);
            int magic = header.getInt();
            int version = header.getInt();
            if (magic != MAGIC || version != VERSION) {
                throw new InvalidLayerInputFileException(file, "not a version " + VERSION + " layer-input file");
            }
            byte[] keyDigest = new byte[DIGEST_BYTES];
            header.get(keyDigest);
            if (!MessageDigest.isEqual(keyDigest, key.digest())) {
                throw new InvalidLayerInputFileException(file, "kept for other inputs (another job, model, calibration draw, device or prior masks)");
            }
            int fileHidden = header.getInt();
            int fileSequences = header.getInt();
            int[] tokens = new int[n];
            for (int s = 0; s < n; s++) {
                tokens[s] = header.getInt();
            }
            if (fileHidden != hidden || fileSequences != n || !Arrays.equals(tokens, tokensPerSequence)) {
                throw new InvalidLayerInputFileException(file, "its hidden size or sequence lengths differ from the calibration data's");
            }
            HiddenStates states = HiddenStates.load(runtime, n, s -> {
                float[] values = new float[tokens[s] * hidden];
                readHashed(in, md, values.length * Float.BYTES).asFloatBuffer().get(values);
                return values;
            });
            try {
                ByteBuffer stored = ByteBuffer.allocate(DIGEST_BYTES);
                readFully(in, stored);
                if (!MessageDigest.isEqual(stored.array(), md.digest())) {
                    throw new InvalidLayerInputFileException(file, "checksum mismatch (the file was corrupted)");
                }
                return states;
            } catch (IOException | RuntimeException e) {
                states.close();
                throw e;
            }
        }
    }

    private static void writeHashed(FileChannel out, MessageDigest md, ByteBuffer buffer) throws IOException {
        md.update(buffer.duplicate());
        writeFully(out, buffer);
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        FileChannels.writeFully(out, buffer);
    }

    private static ByteBuffer readHashed(FileChannel in, MessageDigest md, int bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        readFully(in, buffer);
        md.update(buffer.array());
        return buffer;
    }

    private static void readFully(FileChannel in, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (FileChannels.read(in, buffer) < 0) {
                throw new java.io.EOFException("unexpected end of file");
            }
        }
        buffer.flip();
    }
}
