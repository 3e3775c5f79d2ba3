package dev.fedprune.aggregation.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The tensors of a Hugging Face checkpoint: one {@code model.safetensors} or the shards listed by
 * {@code model.safetensors.index.json}. Tensors are read with positional reads one at a time rather
 * than memory-mapped, so that pages of tensors already used never count against the resident set of a
 * layer-streaming agent.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";
    private static final int CHUNK_BYTES = 1 << 20;

    private record Shard(SafetensorsFile header, FileChannel channel, long dataStart) {
    }

    private record Located(Shard shard, TensorInfo info) {
    }

    private final Path dir;
    private final List<Shard> shards;
    private final Map<String, Located> tensors;

    private Checkpoint(Path dir, List<Shard> shards, Map<String, Located> tensors) {
        this.dir = dir;
        this.shards = shards;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path modelDir) throws IOException {
        Path single = modelDir.resolve(SINGLE);
        Path index = modelDir.resolve(INDEX);
        List<Path> files = new ArrayList<>();
        if (Files.isRegularFile(single)) {
            files.add(single);
        } else if (Files.isRegularFile(index)) {
            files.addAll(shardsOf(modelDir, index));
        } else {
            throw new FormatException(modelDir + ": neither " + SINGLE + " nor " + INDEX + " is present");
        }
        List<Shard> shards = new ArrayList<>();
        Map<String, Located> tensors = new LinkedHashMap<>();
        try {
            for (Path f : files) {
                Shard shard = openShard(f);
                shards.add(shard);
                for (TensorInfo info : shard.header.tensors().values()) {
                    Located previous = tensors.put(info.name(), new Located(shard, info));
                    if (previous != null) {
                        throw new FormatException(f + ": tensor '" + info.name() + "' also appears in " + previous.shard.header.path());
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            for (Shard s : shards) {
                s.header.close();
                s.channel.close();
            }
            throw e;
        }
        Checkpoint checkpoint = new Checkpoint(modelDir, shards, Collections.unmodifiableMap(tensors));
        if (!Files.isRegularFile(single)) {
            try {
                checkpoint.checkIndex(index);
            } catch (IOException | RuntimeException e) {
                checkpoint.close();
                throw e;
            }
        }
        return checkpoint;
    }

    /** Every tensor of the shards is in the index's weight_map, under the shard that holds it. */
    private void checkIndex(Path index) throws IOException {
        Map<String, String> weightMap = weightMap(index);
        for (Map.Entry<String, Located> e : tensors.entrySet()) {
            String listed = weightMap.get(e.getKey());
            String actual = e.getValue().shard.header.path().getFileName().toString();
            if (listed == null) {
                throw new FormatException(index + ": weight_map has no entry for tensor '" + e.getKey() + "' of " + actual);
            }
            if (!listed.equals(actual)) {
                throw new FormatException(index + ": weight_map." + e.getKey() + " names " + listed + " but the tensor is in " + actual);
            }
        }
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            if (!tensors.containsKey(e.getKey())) {
                throw new FormatException(index + ": weight_map." + e.getKey() + " names " + e.getValue() + ", which has no such tensor");
            }
        }
    }

    private static List<Path> shardsOf(Path modelDir, Path index) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Map.Entry<String, String> e : weightMap(index).entrySet()) {
            String file = e.getValue();
            if (file.contains("/") || file.contains("\\") || file.startsWith(".") || !file.endsWith(".safetensors")) {
                throw new FormatException(index + ": weight_map." + e.getKey() + " must name a .safetensors file in the model directory, got '" + file + "'");
            }
            Path shard = modelDir.resolve(file);
            if (!Files.isRegularFile(shard)) {
                throw new FormatException(index + ": weight_map." + e.getKey() + " names missing shard " + shard.getFileName());
            }
            if (!files.contains(shard)) {
                files.add(shard);
            }
        }
        files.sort(java.util.Comparator.comparing(p -> p.getFileName().toString()));
        return files;
    }

    /** The index's tensor-to-shard map, in file order. */
    public static Map<String, String> weightMap(Path index) throws IOException {
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(Files.readString(index));
        } catch (JacksonException e) {
            throw new FormatException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new FormatException(index + ": missing field weight_map (an object of tensor name to shard file)");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isString()) {
                throw new FormatException(index + ": weight_map." + e.getKey() + " must be a file name, got " + e.getValue());
            }
            out.put(e.getKey(), e.getValue().asString());
        }
        return out;
    }

    private static Shard openShard(Path file) throws IOException {
        SafetensorsFile header = SafetensorsFile.open(file);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        channel.read(len, 0);
        return new Shard(header, channel, 8 + len.flip().getLong());
    }

    public Path dir() {
        return dir;
    }

    /** Whether the tensors come from an index and shards rather than one {@code model.safetensors}. */
    public boolean sharded() {
        return !Files.isRegularFile(dir.resolve(SINGLE));
    }

    /** A weights file of the checkpoint: its name, its tensors in file order and its header metadata. */
    public record ShardFile(String fileName, List<TensorInfo> tensors, Map<String, String> metadata) {
    }

    /** The weights files in order (one for a single-file checkpoint). */
    public List<ShardFile> files() {
        List<ShardFile> out = new ArrayList<>();
        for (Shard s : shards) {
            out.add(new ShardFile(s.header.path().getFileName().toString(), List.copyOf(s.header.tensors().values()), s.header.metadata()));
        }
        return out;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** Every tensor, in shard and file order. */
    public List<TensorInfo> infos() {
        return tensors.values().stream().map(Located::info).toList();
    }

    public TensorInfo info(String name) {
        return locate(name).info;
    }

    /** The file that holds a tensor, for error messages. */
    public Path fileOf(String name) {
        return locate(name).shard.header.path();
    }

    private Located locate(String name) {
        Located l = tensors.get(name);
        if (l == null) {
            throw new FormatException(dir + ": tensor '" + name + "' is missing from the checkpoint");
        }
        return l;
    }

    /** The whole tensor as floats; the raw bytes go through a 1 MiB buffer, never whole. */
    public float[] readFloats(String name) throws IOException {
        Located l = locate(name);
        long count = l.info.elementCount();
        if (count > Integer.MAX_VALUE - 8) {
            throw new FormatException(fileOf(name) + ": tensor '" + name + "' has " + count + " elements, more than one Java array holds");
        }
        float[] out = new float[(int) count];
        readFloats(l, 0, out, 0, out.length);
        return out;
    }

    /**
     * {@code count} consecutive elements of a tensor, from element {@code from} in row-major order, as
     * floats: a whole tensor can be processed a slice at a time.
     */
    public float[] readFloats(String name, long from, int count) throws IOException {
        Located l = locate(name);
        if (from < 0 || count < 0 || from + count > l.info.elementCount()) {
            throw new IndexOutOfBoundsException("elements [" + from + ", " + (from + count) + ") of tensor '" + name + "' with "
                    + l.info.elementCount() + " elements");
        }
        float[] out = new float[count];
        readFloats(l, from, out, 0, count);
        return out;
    }

    /** Selected rows of a 2-D tensor (e.g. embedding rows of the token ids in use). */
    public float[] readRows(String name, int[] rows) throws IOException {
        Located l = locate(name);
        int width = Math.toIntExact(l.info.dim(1));
        float[] out = new float[Math.multiplyExact(rows.length, width)];
        for (int r = 0; r < rows.length; r++) {
            readFloats(l, (long) rows[r] * width, out, r * width, width);
        }
        return out;
    }

    private void readFloats(Located l, long firstElement, float[] out, int outOffset, int count) throws IOException {
        DType dtype = l.info.dtype();
        int width = dtype.bytes();
        ByteBuffer buffer = ByteBuffer.allocate(Math.min(CHUNK_BYTES, count * width)).order(ByteOrder.LITTLE_ENDIAN);
        long position = l.shard.dataStart + l.info.dataBegin() + firstElement * width;
        int done = 0;
        while (done < count) {
            int n = Math.min(count - done, buffer.capacity() / width);
            buffer.clear().limit(n * width);
            while (buffer.hasRemaining()) {
                int r = FileChannels.read(l.shard.channel, buffer, position + buffer.position());
                if (r < 0) {
                    throw new FormatException(l.shard.header.path() + ": unexpected end of file in tensor '" + l.info.name() + "'");
                }
            }
            buffer.flip();
            switch (dtype) {
                case F32 -> buffer.asFloatBuffer().get(out, outOffset + done, n);
                case F16 -> {
                    for (int i = 0; i < n; i++) {
                        out[outOffset + done + i] = DType.halfToFloat(buffer.getShort());
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < n; i++) {
                        out[outOffset + done + i] = DType.bf16ToFloat(buffer.getShort());
                    }
                }
                default -> throw new FormatException(l.shard.header.path() + ": tensor '" + l.info.name() + "' has dtype " + dtype + "; expected F32, F16 or BF16");
            }
            position += (long) n * width;
            done += n;
        }
    }

    /** SHA-256 of a tensor's raw bytes, read through a 1 MiB buffer. */
    public String sha256(String name) throws IOException {
        Located l = locate(name);
        java.security.MessageDigest digest = Digests.sha256();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES);
        long position = l.shard.dataStart + l.info.dataBegin();
        long end = position + l.info.byteSize();
        while (position < end) {
            buffer.clear().limit((int) Math.min(CHUNK_BYTES, end - position));
            int n = l.shard.channel.read(buffer, position);
            if (n < 0) {
                throw new FormatException(fileOf(name) + ": unexpected end of file in tensor '" + name + "'");
            }
            buffer.flip();
            digest.update(buffer);
            position += n;
        }
        return Digests.hex(digest.digest());
    }

    /**
     * Reads one weights file once, start to end, and returns its SHA-256, putting the SHA-256 of each
     * of its tensors' raw bytes into {@code tensorSha256}: a manifest of a 13 GB model costs one read.
     */
    public String digest(ShardFile file, Map<String, String> tensorSha256) throws IOException {
        Shard shard = shards.stream().filter(s -> s.header.path().getFileName().toString().equals(file.fileName())).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(file.fileName() + " is not a file of " + dir));
        List<TensorInfo> byOffset = new ArrayList<>(shard.header.tensors().values());
        byOffset.sort(java.util.Comparator.comparingLong(TensorInfo::dataBegin));
        java.security.MessageDigest whole = Digests.sha256();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES);
        long position = 0;
        for (TensorInfo info : byOffset) {
            long begin = shard.dataStart + info.dataBegin();
            position = feed(shard, buffer, position, begin, whole, null);
            java.security.MessageDigest tensor = Digests.sha256();
            position = feed(shard, buffer, begin, begin + info.byteSize(), whole, tensor);
            tensorSha256.put(info.name(), Digests.hex(tensor.digest()));
        }
        feed(shard, buffer, position, shard.channel.size(), whole, null);
        return Digests.hex(whole.digest());
    }

    private static long feed(Shard shard, ByteBuffer buffer, long from, long to, java.security.MessageDigest a,
                             java.security.MessageDigest b) throws IOException {
        long position = from;
        while (position < to) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), to - position));
            int n = shard.channel.read(buffer, position);
            if (n < 0) {
                throw new FormatException(shard.header.path() + ": unexpected end of file at byte " + position);
            }
            buffer.flip();
            a.update(buffer.duplicate());
            if (b != null) {
                b.update(buffer);
            }
            position += n;
        }
        return Math.max(position, from);
    }

    /** Copies a tensor's raw bytes to a channel without holding it in memory. */
    public void copyRaw(String name, WritableByteChannel target) throws IOException {
        Located l = locate(name);
        FileChannels.transferFully(l.shard.channel, l.shard.dataStart + l.info.dataBegin(), l.info.byteSize(), target,
                l.shard.header.path() + ": tensor '" + name + "'");
    }

    @Override
    public void close() throws IOException {
        for (Shard s : shards) {
            s.header.close();
            s.channel.close();
        }
    }
}
