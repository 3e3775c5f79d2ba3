package dev.fedprune.coordinator.contribution;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.proto.v1.Contribution;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A contribution kept on disk. Opening it parses every field but the masks, which are only indexed
 * ({@link MaskSetIndex}); a method reads the masks it needs one tensor at a time. Contributions without
 * masks are small and are used whole through {@link #message()}.
 *
 * <p>Owns an open file channel: close it.
 */
public final class ContributionFile implements AutoCloseable {
    private static final int MASKS = (Contribution.MASKS_FIELD_NUMBER << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED);

    private final Path path;
    private final long sizeBytes;
    private final Contribution header;
    private final MaskSetIndex masks;
    private FileChannel channel;

    private ContributionFile(Path path, long sizeBytes, Contribution header, MaskSetIndex masks) {
        this.path = path;
        this.sizeBytes = sizeBytes;
        this.header = header;
        this.masks = masks;
    }

    /**
     * Parses a stored contribution, refusing what is not a well-formed {@code fedprune.v1.Contribution}
     * of this contract (unknown fields at any depth, a payload given twice).
     *
     * @throws InvalidProtocolBufferException if the bytes are not a Contribution message
     * @throws InvalidContributionException   naming the field at fault
     */
    public static ContributionFile open(Path path) throws IOException {
        long size = Files.size(path);
        ByteArrayOutputStream headerBytes = new ByteArrayOutputStream();
        MaskSetIndex masks = null;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            CodedInputStream input = CodedInputStream.newInstance(in);
            input.setSizeLimit(Integer.MAX_VALUE);
            CodedOutputStream header = CodedOutputStream.newInstance(headerBytes);
            for (int tag = input.readTag(); tag != 0; tag = input.readTag()) {
                if (tag == MASKS) {
                    if (masks != null) {
                        throw new InvalidContributionException("masks", "appears twice");
                    }
                    int length = input.readRawVarint32();
                    int limit = input.pushLimit(length);
                    masks = MaskSetIndex.scan(input, 0, "masks");
                    input.popLimit(limit);
                } else {
                    input.skipField(tag, header);
                }
            }
            header.flush();
        }
        Contribution parsed = Contribution.parseFrom(headerBytes.toByteArray());
        UnknownFields.refuse("payload", parsed);
        if (masks != null && parsed.getPayloadCase() != Contribution.PayloadCase.PAYLOAD_NOT_SET) {
            throw new InvalidContributionException("payload", "carries both masks and " + parsed.getPayloadCase().name().toLowerCase());
        }
        return new ContributionFile(path, size, parsed, masks);
    }

    public Path path() {
        return path;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    /** Every field but the masks: task id, sample count, quality, and any other payload. */
    public Contribution header() {
        return header;
    }

    public boolean hasMasks() {
        return masks != null;
    }

    /** The index of the masks payload; only when {@link #hasMasks()}. */
    public MaskSetIndex masks() {
        if (masks == null) {
            throw new IllegalStateException("contribution has no masks");
        }
        return masks;
    }

    /** Reads and decodes one indexed mask. */
    public BitMask readMask(MaskSetIndex.Entry entry) throws IOException {
        if (channel == null) {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        }
        return masks().read(channel, entry);
    }

    /**
     * The whole contribution as one message, masks included: for methods whose contributions are
     * small (sparse training). A mask vote of a large model is read through {@link #readMask} instead.
     */
    public Contribution message() throws IOException {
        if (masks == null) {
            return header;
        }
        if (sizeBytes > Integer.MAX_VALUE - 8) {
            throw new InvalidContributionException("payload", sizeBytes + " bytes are too many to parse as one message");
        }
        return Contribution.parseFrom(Files.readAllBytes(path));
    }

    @Override
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
            channel = null;
        }
    }
}
