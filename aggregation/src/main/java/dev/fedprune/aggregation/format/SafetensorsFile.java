package dev.fedprune.aggregation.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * A memory-mapped, read-only safetensors file. Tensor bytes are mapped on demand, one tensor at a
 * time, so that opening a multi-gigabyte checkpoint costs only its header. The file stays open until
 * {@link #close()}; buffers returned by {@link #bytes(String)} must not be used after that.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return parse(path, channel);
        } catch (RuntimeException | IOException e) {
            channel.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new FormatException(path + ": truncated safetensors file (" + fileSize + " bytes, need at least the 8-byte header length)");
        }
        ByteBuffer lengthBuffer = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBuffer, 0);
        long headerLength = lengthBuffer.flip().getLong();
        if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
            throw new FormatException(path + ": header length " + headerLength + " is invalid for a file of " + fileSize + " bytes");
        }
        ByteBuffer headerBuffer = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBuffer, 8);
        String headerJson = new String(headerBuffer.array(), StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerJson);
        } catch (JacksonException e) {
            throw new FormatException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new FormatException(path + ": header must be a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataSize = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                for (Map.Entry<String, JsonNode> m : node.properties()) {
                    metadata.put(m.getKey(), m.getValue().asString());
                }
                continue;
            }
            infos.add(parseTensor(path, name, node, dataSize));
        }
        infos.sort(Comparator.comparingLong(TensorInfo::dataBegin));
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo info : infos) {
            byName.put(info.name(), info);
        }
        return new SafetensorsFile(path, channel, dataStart, Collections.unmodifiableMap(byName),
                Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseTensor(Path path, String name, JsonNode node, long dataSize) {
        String where = path + ": tensor '" + name + "'";
        if (!node.isObject() || !node.has("dtype") || !node.has("shape") || !node.has("data_offsets")) {
            throw new FormatException(where + " must have dtype, shape and data_offsets");
        }
        DType dtype;
        try {
            dtype = DType.parse(node.get("dtype").asString());
        } catch (IllegalArgumentException e) {
            throw new FormatException(where + ": " + e.getMessage(), e);
        }
        JsonNode shapeNode = node.get("shape");
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong();
            if (shape[i] < 0) {
                throw new FormatException(where + ": negative dimension in shape");
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets.size() != 2) {
            throw new FormatException(where + ": data_offsets must be [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw new FormatException(where + ": data_offsets [" + begin + ", " + end + "] outside the data section of " + dataSize + " bytes (truncated file?)");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, begin, end);
        long expected = Math.multiplyExact(info.elementCount(), dtype.bytes());
        if (end - begin != expected) {
            throw new FormatException(where + ": " + (end - begin) + " data bytes but shape and dtype need " + expected);
        }
        return info;
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = FileChannels.read(channel, buffer, pos);
            if (n < 0) {
                throw new FormatException("unexpected end of file");
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensors in file order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new FormatException(path + ": no tensor named '" + name + "'");
        }
        return info;
    }

    /**
     * The tensor's raw bytes, little-endian, read into the heap. Not memory-mapped: mapped pages would
     * count against the process's resident set until the buffer is collected.
     */
    public ByteBuffer bytes(String name) throws IOException {
        TensorInfo info = info(name);
        if (info.byteSize() > Integer.MAX_VALUE - 8) {
            throw new FormatException(path + ": tensor '" + name + "' is larger than 2 GiB; read it with Checkpoint");
        }
        ByteBuffer out = ByteBuffer.allocate((int) info.byteSize());
        readFully(channel, out, dataStart + info.dataBegin());
        return out.flip().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The tensor converted to floats (F32, F16, BF16 or F64). */
    public float[] floats(String name) throws IOException {
        TensorInfo info = info(name);
        return Tensors.toFloats(bytes(name), info.dtype(), Math.toIntExact(info.elementCount()));
    }

    /** Copies a tensor's raw bytes to a channel without holding them in memory. */
    public void copyRaw(String name, WritableByteChannel target) throws IOException {
        TensorInfo info = info(name);
        FileChannels.transferFully(channel, dataStart + info.dataBegin(), info.byteSize(), target, path + ": tensor '" + name + "'");
    }

    /** SHA-256 of the tensor's raw bytes. */
    public String sha256(String name) throws IOException {
        return Digests.sha256Hex(bytes(name));
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
