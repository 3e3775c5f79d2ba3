package dev.fedprune.agent.llm;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps glibc from hoarding the memory PyTorch frees. By default glibc raises its mmap threshold after
 * the first large free, so later weight-sized buffers come from per-thread arenas and stay resident
 * after they are freed: layer streaming of a 16-layer model then peaked at 44% of the model size
 * instead of 35%. Fixing the threshold (large blocks are mapped and unmapped) and capping the arenas,
 * as {@code MALLOC_MMAP_THRESHOLD_} and {@code MALLOC_ARENA_MAX} would, restores what streaming should
 * give. Linux/glibc only; {@code -Dfedprune.mallopt=false} turns it off.
 */
final class NativeMemory {
    private static final Logger LOG = LoggerFactory.getLogger(NativeMemory.class);
    private static final int M_MMAP_THRESHOLD = -3;
    private static final int M_ARENA_MAX = -8;
    private static boolean applied;

    interface CLibrary extends Library {
        int mallopt(int param, int value);
    }

    private NativeMemory() {
    }

    static synchronized void tune() {
        if (applied || !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")
                || !Boolean.parseBoolean(System.getProperty("fedprune.mallopt", "true"))) {
            return;
        }
        applied = true;
        try {
            CLibrary c = Native.load("c", CLibrary.class);
            int threshold = c.mallopt(M_MMAP_THRESHOLD, 64 * 1024);
            int arenas = c.mallopt(M_ARENA_MAX, 2);
            LOG.debug("mallopt mmap threshold 64 KiB: {}, arena max 2: {}", threshold, arenas);
        } catch (LinkageError | RuntimeException e) {
            LOG.debug("mallopt not available ({}); native memory keeps glibc defaults", e.toString());
        }
    }
}
