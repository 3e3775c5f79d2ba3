package dev.fedprune.aggregation.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileChannelsTest {
    @TempDir
    Path dir;

    @Test
    void transferCopiesTheRangeFileToFileAndNamesWhatEndedEarly() throws IOException {
        byte[] data = new byte[2 * FileChannels.MAX_BYTES + 77];
        new Random(11).nextBytes(data);
        Path source = Files.write(dir.resolve("source.bin"), data);
        Path copy = dir.resolve("copy.bin");
        try (FileChannel in = FileChannel.open(source);
             FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            FileChannels.transferFully(in, 5, data.length - 10, out, "range");
            java.io.EOFException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.EOFException.class,
                    () -> FileChannels.transferFully(in, data.length - 3, 8, out, "tensor 'w'"));
            assertEquals("tensor 'w': unexpected end of file after 3 of 8 bytes", e.getMessage());
        }
        byte[] copied = Files.readAllBytes(copy);
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 5, data.length - 5), java.util.Arrays.copyOf(copied, data.length - 10));
        assertEquals(data.length - 10 + 3, copied.length, "what was there before the source ended is copied");
    }

    @Test
    void largeBuffersMoveInCallsOfAtMostOneMebibyteAndArriveWhole() throws IOException {
        byte[] data = new byte[3 * FileChannels.MAX_BYTES + 12_345];
        new Random(7).nextBytes(data);
        Path file = dir.resolve("data.bin");
        List<Integer> writes = new ArrayList<>();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer src = ByteBuffer.wrap(data);
            FileChannels.writeFully(new CountingChannel(out, writes), src);
            assertEquals(data.length, src.position());
            assertEquals(data.length, src.limit(), "the caller's limit is left as it was");
        }
        assertArrayEquals(data, Files.readAllBytes(file));
        assertTrue(writes.stream().allMatch(n -> n <= FileChannels.MAX_BYTES), writes.toString());

        try (FileChannel in = FileChannel.open(file)) {
            ByteBuffer dst = ByteBuffer.allocate(data.length - 100);
            long position = 100;
            int calls = 0;
            while (dst.hasRemaining()) {
                int n = FileChannels.read(in, dst, position + dst.position());
                assertTrue(n > 0 && n <= FileChannels.MAX_BYTES, "read " + n);
                calls++;
            }
            assertEquals(dst.capacity(), dst.limit(), "the caller's limit is left as it was");
            assertTrue(calls >= 4, calls + " calls");
            byte[] tail = new byte[data.length - 100];
            System.arraycopy(data, 100, tail, 0, tail.length);
            assertArrayEquals(tail, dst.array());
            assertEquals(-1, FileChannels.read(in, ByteBuffer.allocate(8), data.length));
        }
    }

    /** A channel that records how many bytes each write call was given. */
    private static final class CountingChannel extends FileChannel {
        private final FileChannel inner;
        private final List<Integer> writes;

        CountingChannel(FileChannel inner, List<Integer> writes) {
            this.inner = inner;
            this.writes = writes;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            writes.add(src.remaining());
            return inner.write(src);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return inner.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return inner.read(dsts, offset, length);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return inner.write(srcs, offset, length);
        }

        @Override
        public long position() throws IOException {
            return inner.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            inner.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return inner.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            inner.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            inner.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, java.nio.channels.WritableByteChannel target) throws IOException {
            return inner.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(java.nio.channels.ReadableByteChannel src, long position, long count) throws IOException {
            return inner.transferFrom(src, position, count);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return inner.read(dst, position);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            return inner.write(src, position);
        }

        @Override
        public java.nio.MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return inner.map(mode, position, size);
        }

        @Override
        public java.nio.channels.FileLock lock(long position, long size, boolean shared) throws IOException {
            return inner.lock(position, size, shared);
        }

        @Override
        public java.nio.channels.FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return inner.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            inner.close();
        }
    }
}
