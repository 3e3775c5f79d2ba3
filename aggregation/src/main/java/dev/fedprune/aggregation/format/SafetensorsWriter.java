package dev.fedprune.aggregation.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Streams tensors into a safetensors file one at a time, so that writing a model never needs all of
 * it in memory. The tensors are declared up front (the header comes first in the format) and must be
 * written in that order: each whole, from floats encoded a slice at a time, in consecutive parts when a
 * tensor is too large to hold at once, or copied byte for byte from a checkpoint.
 * The file appears at its path only when every tensor was written and the
 * writer is closed; until then it lives in a temporary sibling, so a failure leaves nothing half-written.
 */
public final class SafetensorsWriter implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    /** Floats encoded at a time by {@link #write(String, float[])}. */
    private static final int FLOATS_PER_SLICE = 1 << 16;

    /** A tensor to declare: name, dtype, shape. */
    public record Entry(String name, DType dtype, long[] shape) {
        public long byteSize() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return Math.multiplyExact(n, dtype.bytes());
        }
    }

    private final Path target;
    private final Path temporary;
    private final FileChannel channel;
    private final List<Entry> entries;
    private int next;
    private long partBytesOfNext;
    private boolean failed;

    private SafetensorsWriter(Path target, Path temporary, FileChannel channel, List<Entry> entries) {
        this.target = target;
        this.temporary = temporary;
        this.channel = channel;
        this.entries = entries;
    }

    public static SafetensorsWriter create(Path target, List<Entry> entries, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            new LinkedHashMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            Arrays.stream(e.shape()).forEach(shape::add);
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += e.byteSize();
            offsets.add(offset);
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the format recommends 8-byte alignment of the data section
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');

        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path temporary = Files.createTempFile(parent, target.getFileName().toString(), ".partial");
        FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).flip();
        writeFully(channel, prefix);
        writeFully(channel, ByteBuffer.wrap(headerBytes));
        return new SafetensorsWriter(target, temporary, channel, List.copyOf(entries));
    }

    /** Writes the next declared tensor's raw little-endian bytes. */
    public void write(String name, ByteBuffer data) throws IOException {
        if (next >= entries.size()) {
            failed = true;
            throw new IllegalStateException("tensor '" + name + "' was not declared; all " + entries.size() + " are written");
        }
        Entry expected = entries.get(next);
        if (partBytesOfNext != 0) {
            failed = true;
            throw new IllegalStateException("tensor '" + expected.name() + "' is written in parts and has " + partBytesOfNext
                    + " of " + expected.byteSize() + " bytes; finish it with writePart before writing '" + name + "'");
        }
        if (!expected.name().equals(name) || data.remaining() != expected.byteSize()) {
            failed = true;
            throw new IllegalArgumentException("expected tensor '" + expected.name() + "' of " + expected.byteSize()
                    + " bytes next, got '" + name + "' of " + data.remaining() + " bytes");
        }
        writeFully(channel, data.duplicate());
        next++;
    }

    /**
     * Writes the next consecutive part of the current tensor's raw little-endian bytes; the tensor is
     * complete, and the next declared one becomes current, once all its bytes are written.
     */
    public void writePart(String name, ByteBuffer part) throws IOException {
        if (next >= entries.size()) {
            failed = true;
            throw new IllegalStateException("tensor '" + name + "' was not declared; all " + entries.size() + " are written");
        }
        Entry expected = entries.get(next);
        long left = expected.byteSize() - partBytesOfNext;
        if (!expected.name().equals(name) || part.remaining() > left) {
            failed = true;
            throw new IllegalArgumentException("expected at most " + left + " more bytes of tensor '" + expected.name()
                    + "' next, got '" + name + "' with " + part.remaining() + " bytes");
        }
        int bytes = part.remaining();
        writeFully(channel, part.duplicate());
        partBytesOfNext += bytes;
        if (partBytesOfNext == expected.byteSize()) {
            next++;
            partBytesOfNext = 0;
        }
    }

    /**
     * Writes the next declared tensor from floats, encoded in its declared dtype a slice at a time, so that
     * a tensor as large as an embedding is never held twice.
     */
    public void write(String name, float[] values) throws IOException {
        Entry expected = next < entries.size() ? entries.get(next) : null;
        if (expected == null || !expected.name().equals(name) || partBytesOfNext != 0
                || (long) values.length * expected.dtype().bytes() != expected.byteSize()) {
            // Refused with the precise message of write(String, ByteBuffer).
            DType dtype = expected != null && expected.name().equals(name) ? expected.dtype() : DType.F32;
            write(name, ByteBuffer.wrap(Tensors.fromFloats(values, dtype)));
            return;
        }
        if (values.length == 0) {
            next++;
            return;
        }
        for (int from = 0; from < values.length; from += FLOATS_PER_SLICE) {
            float[] slice = Arrays.copyOfRange(values, from, Math.min(values.length, from + FLOATS_PER_SLICE));
            writePart(name, ByteBuffer.wrap(Tensors.fromFloats(slice, expected.dtype())));
        }
    }

    /**
     * Writes the next declared tensor by copying its bytes unchanged from a checkpoint (same dtype and
     * shape), file to file, without holding it in memory.
     */
    public void copy(String name, Checkpoint source) throws IOException {
        transfer(name, source.info(name).byteSize(), source.fileOf(name), target -> source.copyRaw(name, target));
    }

    /** As {@link #copy(String, Checkpoint)}, from a single safetensors file. */
    public void copy(String name, SafetensorsFile source) throws IOException {
        transfer(name, source.info(name).byteSize(), source.path(), target -> source.copyRaw(name, target));
    }

    private interface RawCopy {
        void to(FileChannel target) throws IOException;
    }

    private void transfer(String name, long size, Path from, RawCopy copy) throws IOException {
        if (next >= entries.size()) {
            failed = true;
            throw new IllegalStateException("tensor '" + name + "' was not declared; all " + entries.size() + " are written");
        }
        Entry expected = entries.get(next);
        if (!expected.name().equals(name) || partBytesOfNext != 0 || size != expected.byteSize()) {
            failed = true;
            throw new IllegalArgumentException("expected tensor '" + expected.name() + "' of " + expected.byteSize()
                    + " bytes next, got '" + name + "' of " + size + " bytes from " + from);
        }
        try {
            copy.to(channel);
        } catch (IOException | RuntimeException e) {
            failed = true;
            throw e;
        }
        next++;
    }

    private static void writeFully(FileChannel channel, ByteBuffer data) throws IOException {
        FileChannels.writeFully(channel, data);
    }

    @Override
    public void close() throws IOException {
        channel.close();
        if (failed || next != entries.size()) {
            Files.deleteIfExists(temporary);
            if (!failed) {
                throw new IllegalStateException("safetensors " + target + " closed after " + next + " of " + entries.size() + " tensors; nothing written");
            }
            return;
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
