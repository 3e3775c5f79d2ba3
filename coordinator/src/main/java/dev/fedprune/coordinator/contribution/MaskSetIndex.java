package dev.fedprune.coordinator.contribution;

import dev.fedprune.wire.MaskWire;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.FileChannels;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each tensor's mask lies in a serialized {@code fedprune.v1.MaskSet} kept in a file: names,
 * lengths and encodings are parsed, the mask bytes are not. A mask is read and decoded only when it is
 * asked for, so a contribution of a whole 7B model never sits in the heap at once.
 */
public final class MaskSetIndex {
    private static final int TENSOR_MASK = (1 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int NAME = (1 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int NUM_WEIGHTS = (2 << 3 | WireFormat.WIRETYPE_VARINT);
    private static final int ENCODING = (3 << 3 | WireFormat.WIRETYPE_VARINT);
    private static final int DATA = (4 << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED);

    /** One tensor's mask: its declared name, length and encoding, and where its bytes are in the file. */
    public record Entry(String tensorName, long numWeights, int encoding, long dataOffset, int dataLength) {
    }

    private final String field;
    private final List<Entry> entries;

    private MaskSetIndex(String field, List<Entry> entries) {
        this.field = field;
        this.entries = List.copyOf(entries);
    }

    /**
     * Indexes the MaskSet that {@code in} is positioned at, up to its current limit.
     *
     * @param base  the file offset of {@code in}'s first byte
     * @param field the MaskSet's field path, for refusals ("masks")
     */
    static MaskSetIndex scan(CodedInputStream in, long base, String field) throws IOException {
        List<Entry> entries = new ArrayList<>();
        while (!in.isAtEnd()) {
            int tag = in.readTag();
            if (tag != TENSOR_MASK) {
                throw new InvalidContributionException(field, "field number " + WireFormat.getTagFieldNumber(tag) + " (wire type "
                        + WireFormat.getTagWireType(tag) + ") is not a MaskSet field of fedprune.v1; refused");
            }
            int length = in.readRawVarint32();
            int limit = in.pushLimit(length);
            entries.add(scanTensorMask(in, base, field + "[" + entries.size() + "]"));
            in.popLimit(limit);
        }
        return new MaskSetIndex(field, entries);
    }

    /** Indexes a file that holds one serialized MaskSet (a round's global mask artifact). */
    public static MaskSetIndex scan(FileChannel file, String field) throws IOException {
        file.position(0);
        CodedInputStream in = CodedInputStream.newInstance(new BufferedInputStream(Channels.newInputStream(file), 1 << 16));
        in.setSizeLimit(Integer.MAX_VALUE);
        return scan(in, 0, field);
    }

    private static Entry scanTensorMask(CodedInputStream in, long base, String field) throws IOException {
        String name = "";
        long weights = 0;
        int encoding = 0;
        long offset = -1;
        int length = 0;
        while (!in.isAtEnd()) {
            int tag = in.readTag();
            if (tag == NAME) {
                name = in.readStringRequireUtf8();
            } else if (tag == NUM_WEIGHTS) {
                weights = in.readInt64();
            } else if (tag == ENCODING) {
                encoding = in.readEnum();
            } else if (tag == DATA) {
                length = in.readRawVarint32();
                offset = base + in.getTotalBytesRead();
                in.skipRawBytes(length);
            } else {
                throw new InvalidContributionException(field, "field number " + WireFormat.getTagFieldNumber(tag) + " (wire type "
                        + WireFormat.getTagWireType(tag) + ") is not a TensorMask field of fedprune.v1; refused");
            }
        }
        return new Entry(name, weights, encoding, offset, length);
    }

    public List<Entry> entries() {
        return entries;
    }

    /**
     * The entries by tensor name, checked against what the task asked for: every expected tensor once,
     * with its number of weights, and nothing else.
     *
     * @param expected tensor name to number of weights
     */
    public Map<String, Entry> check(Map<String, Long> expected) {
        Map<String, Entry> byName = new LinkedHashMap<>();
        for (Entry e : entries) {
            String at = field + "[" + e.tensorName() + "]";
            MaskWire.checkEntry(at, e.tensorName(), e.numWeights(), expected, byName.containsKey(e.tensorName()));
            if (e.dataOffset() < 0) {
                throw new InvalidContributionException(at + ".data", "missing");
            }
            byName.put(e.tensorName(), e);
        }
        MaskWire.checkComplete(field, expected, byName);
        return byName;
    }

    /** Reads and decodes one mask from {@code file}. */
    public BitMask read(FileChannel file, Entry e) throws IOException {
        String at = field + "[" + e.tensorName() + "]";
        ByteBuffer data = ByteBuffer.allocate(e.dataLength());
        while (data.hasRemaining()) {
            if (FileChannels.read(file, data, e.dataOffset() + data.position()) < 0) {
                throw new InvalidContributionException(at + ".data", "the stored contribution ends inside this mask");
            }
        }
        return MaskWire.decode(at, e.encoding(), e.numWeights(), data.array());
    }
}
