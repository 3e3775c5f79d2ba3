package dev.fedprune.aggregation.format;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * {@link FileChannel} reads and writes of at most {@value #MAX_BYTES} bytes per call. A read into (or a write
 * from) a heap buffer goes through a temporary direct buffer of the call's size, which the JDK then keeps in a
 * per-thread cache for the life of the thread: one call on a 525 MB embedding would hold 525 MB of native
 * memory outside the heap. Bounding each call bounds that cache.
 */
public final class FileChannels {
    /** The most bytes one call moves. */
    public static final int MAX_BYTES = 1 << 20;

    private FileChannels() {
    }

    /** As {@link FileChannel#read(ByteBuffer, long)}, reading at most {@value #MAX_BYTES} bytes. */
    public static int read(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        int limit = dst.limit();
        dst.limit(dst.position() + Math.min(dst.remaining(), MAX_BYTES));
        try {
            return channel.read(dst, position);
        } finally {
            dst.limit(limit);
        }
    }

    /** As {@link FileChannel#read(ByteBuffer)}, reading at most {@value #MAX_BYTES} bytes. */
    public static int read(FileChannel channel, ByteBuffer dst) throws IOException {
        int limit = dst.limit();
        dst.limit(dst.position() + Math.min(dst.remaining(), MAX_BYTES));
        try {
            return channel.read(dst);
        } finally {
            dst.limit(limit);
        }
    }

    /**
     * Copies {@code size} bytes from {@code position} of {@code source} to {@code target} with
     * {@link FileChannel#transferTo} (file to file: no buffer in the heap, none cached);
     * {@code what} names the bytes when the source ends early.
     */
    public static void transferFully(FileChannel source, long position, long size, WritableByteChannel target, String what)
            throws IOException {
        long done = 0;
        while (done < size) {
            long n = source.transferTo(position + done, size - done, target);
            if (n <= 0) {
                throw new EOFException(what + ": unexpected end of file after " + done + " of " + size + " bytes");
            }
            done += n;
        }
    }

    /** Writes all of {@code src}, at most {@value #MAX_BYTES} bytes per call. */
    public static void writeFully(FileChannel channel, ByteBuffer src) throws IOException {
        int limit = src.limit();
        try {
            while (src.position() < limit) {
                src.limit(src.position() + Math.min(limit - src.position(), MAX_BYTES));
                channel.write(src);
                src.limit(limit);
            }
        } finally {
            src.limit(limit);
        }
    }
}
