package dev.fedprune.agent.bench;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Structure;

/**
 * Bytes of native memory in use through glibc's allocator ({@code mallinfo2}: {@code uordblks + hblkhd},
 * small blocks in use plus mmap-ed large blocks), which is where libtorch's CPU allocator gets its
 * tensors. Linux/glibc 2.33+ only; a bench helper, not for the agent's hot paths.
 */
final class NativeHeap {
    private static final CLibrary C = Native.load("c", CLibrary.class);

    interface CLibrary extends Library {
        MallInfo2.ByValue mallinfo2();
    }

    /** {@code struct mallinfo2}: ten {@code size_t} fields. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"})
    public static class MallInfo2 extends Structure {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;

        public static class ByValue extends MallInfo2 implements Structure.ByValue {
        }
    }

    private NativeHeap() {
    }

    static long inUseBytes() {
        MallInfo2 info = C.mallinfo2();
        return info.uordblks + info.hblkhd;
    }

    /** Polls {@link #inUseBytes()} on a daemon thread until stopped; the peak misses spikes shorter than a poll. */
    static final class PeakSampler implements Runnable {
        private volatile boolean running = true;
        private volatile long peak;
        private final Thread thread;

        private PeakSampler() {
            peak = inUseBytes();
            thread = new Thread(this, "native-peak-sampler");
            thread.setDaemon(true);
        }

        static PeakSampler start() {
            PeakSampler sampler = new PeakSampler();
            sampler.thread.start();
            return sampler;
        }

        @Override
        public void run() {
            while (running) {
                peak = Math.max(peak, inUseBytes());
                java.util.concurrent.locks.LockSupport.parkNanos(20_000); // leaves the cores to libtorch
            }
        }

        /** Stops polling and returns the highest value seen, including one last sample. */
        long stop() throws InterruptedException {
            running = false;
            thread.join();
            return Math.max(peak, inUseBytes());
        }
    }
}
