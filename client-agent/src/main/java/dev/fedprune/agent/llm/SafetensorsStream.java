package dev.fedprune.agent.llm;

import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes a safetensors file tensor by tensor in declared order, where each tensor may come from floats
 * (encoded in chunks), raw bytes, or a direct channel copy from a checkpoint, so that even an embedding
 * larger than the heap never sits in memory. The file appears only once complete.
 */
public final class SafetensorsStream implements AutoCloseable {
    /** A declared tensor. */
    public record Entry(String name, DType dtype, long[] shape) {
        long bytes() {
            long n = dtype.bytes();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private static final int CHUNK = 1 << 16;
    private final Path target;
    private final Path temporary;
    private final FileChannel channel;
    private final List<Entry> entries;
    private int next;

    private SafetensorsStream(Path target, Path temporary, FileChannel channel, List<Entry> entries) {
        this.target = target;
        this.temporary = temporary;
        this.channel = channel;
        this.entries = entries;
    }

    public static SafetensorsStream create(Path target, List<Entry> entries, Map<String, String> metadata) throws IOException {
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            Arrays.stream(e.shape()).forEach(shape::add);
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += e.bytes();
            offsets.add(offset);
        }
        byte[] text = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) / 8 * 8;
        byte[] headerBytes = Arrays.copyOf(text, padded);
        Arrays.fill(headerBytes, text.length, padded, (byte) ' ');
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path temporary = Files.createTempFile(parent, target.getFileName().toString(), ".partial");
        FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        writeFully(channel, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).flip());
        writeFully(channel, ByteBuffer.wrap(headerBytes));
        return new SafetensorsStream(target, temporary, channel, new ArrayList<>(entries));
    }

    private Entry expect(String name) {
        if (next >= entries.size() || !entries.get(next).name().equals(name)) {
            throw new IllegalStateException("expected tensor " + (next < entries.size() ? "'" + entries.get(next).name() + "'" : "none")
                    + " next, got '" + name + "'");
        }
        return entries.get(next++);
    }

    /** Writes floats encoded in the declared dtype. */
    public void writeFloats(String name, float[] values) throws IOException {
        Entry e = expect(name);
        if ((long) values.length * e.dtype().bytes() != e.bytes()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " values for " + Arrays.toString(e.shape()));
        }
        for (int from = 0; from < values.length; from += CHUNK) {
            float[] chunk = Arrays.copyOfRange(values, from, Math.min(values.length, from + CHUNK));
            writeFully(channel, ByteBuffer.wrap(Tensors.fromFloats(chunk, e.dtype())));
        }
    }

    public void writeBytes(String name, byte[] bytes) throws IOException {
        Entry e = expect(name);
        if (bytes.length != e.bytes()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + bytes.length + " bytes, declared " + e.bytes());
        }
        writeFully(channel, ByteBuffer.wrap(bytes));
    }

    /** Copies a tensor's bytes unchanged from a checkpoint (same dtype and shape). */
    public void copy(String name, Checkpoint source) throws IOException {
        Entry e = expect(name);
        if (source.info(name).byteSize() != e.bytes()) {
            throw new IllegalArgumentException("tensor '" + name + "' differs in size from its declaration");
        }
        source.copyRaw(name, channel);
    }

    private static void writeFully(FileChannel channel, ByteBuffer data) throws IOException {
        while (data.hasRemaining()) {
            channel.write(data);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
        if (next != entries.size()) {
            Files.deleteIfExists(temporary);
            throw new IllegalStateException(target + ": closed after " + next + " of " + entries.size() + " tensors; nothing written");
        }
        try {
            Files.setPosixFilePermissions(temporary, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: keep the temporary file's default permissions
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
