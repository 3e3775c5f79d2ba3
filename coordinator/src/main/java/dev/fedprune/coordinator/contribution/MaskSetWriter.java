package dev.fedprune.coordinator.contribution;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.aggregation.format.EncodedMask;
import dev.fedprune.aggregation.format.MaskCodec;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.TensorMask;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;

/**
 * Writes a {@code fedprune.v1.MaskSet} to a file one tensor at a time (each mask in whichever encoding
 * is smaller), hashing as it goes: a round's global mask of a whole model is never built in memory.
 * The bytes are those of {@code MaskSet.newBuilder().addMasks(...)...build().toByteArray()}.
 */
public final class MaskSetWriter implements AutoCloseable {
    private final FileChannel channel;
    private final MessageDigest digest = Digests.sha256();
    private final OutputStream stream;
    private final CodedOutputStream out;

    private MaskSetWriter(FileChannel channel) {
        this.channel = channel;
        this.stream = new DigestOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16), digest);
        this.out = CodedOutputStream.newInstance(stream, 1 << 16);
    }

    public static MaskSetWriter create(Path file) throws IOException {
        return new MaskSetWriter(FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE));
    }

    public void add(String tensorName, BitMask mask) throws IOException {
        EncodedMask encoded = MaskCodec.encode(mask);
        TensorMask message = TensorMask.newBuilder().setTensorName(tensorName).setNumWeights(mask.length())
                .setEncoding(MaskEncoding.valueOf(encoded.encoding().protoName())).setData(ByteString.copyFrom(encoded.data())).build();
        out.writeMessage(MaskSet.MASKS_FIELD_NUMBER, message);
    }

    /** Flushes and forces the file to disk; returns the SHA-256 of everything written. */
    public String finish() throws IOException {
        out.flush();
        stream.flush();
        channel.force(true);
        return Digests.hex(digest.digest());
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
