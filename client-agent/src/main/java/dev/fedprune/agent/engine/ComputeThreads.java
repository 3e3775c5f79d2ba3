package dev.fedprune.agent.engine;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;

/**
 * The agent's {@code limits.threads}: how many threads its computations use, process-wide. It sets
 * libtorch's intra-op threads (the threads one operator runs on) and inter-op threads, and the JVM's
 * ForkJoin common pool, which runs the parallel streams of mask selection, SparseGPT and the dense
 * linear algebra, to {@code N - 1} workers (the calling thread is the N-th). The LLM runtime takes at
 * most this many intra-op threads for a model ({@code DecoderRuntime}). Threads that mostly wait
 * (gRPC, heartbeats, logging) are not counted.
 */
public final class ComputeThreads {
    static final String COMMON_POOL_PROPERTY = "java.util.concurrent.ForkJoinPool.common.parallelism";
    private static volatile int limit;

    private ComputeThreads() {
    }

    /**
     * Limits compute threads to {@code threads}. Call it early: the common pool takes its size when the JVM
     * first uses it, and libtorch its inter-op threads at its first parallel work. Does not load the
     * PyTorch engine: an engine not loaded yet takes the limit when DJL creates it; one already loaded is
     * set directly. Returns what could not be applied in this process (a pool already started with another
     * size), empty when everything holds.
     *
     * @param source the setting, for the returned messages
     */
    public static synchronized List<String> limitTo(int threads, String source) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        limit = threads;
        List<String> notApplied = new ArrayList<>();
        System.setProperty(COMMON_POOL_PROPERTY, Integer.toString(threads - 1));
        int poolWanted = Math.max(1, threads - 1);
        if (ForkJoinPool.getCommonPoolParallelism() != poolWanted) {
            notApplied.add(source + ": the JVM's ForkJoin common pool had already started with " + ForkJoinPool.getCommonPoolParallelism()
                    + " workers, not " + (threads - 1) + "; start the JVM with -D" + COMMON_POOL_PROPERTY + "=" + (threads - 1));
        }
        // DJL's PtEngine applies these when it creates the engine.
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", Integer.toString(threads));
        if (engineLoaded()) {
            Engine.getEngine("PyTorch");
            if (JniUtils.getNumThreads() != threads) {
                JniUtils.setNumThreads(threads);
            }
            if (JniUtils.getNumInteropThreads() != threads) {
                try {
                    JniUtils.setNumInteropThreads(threads);
                } catch (RuntimeException e) {
                    // libtorch fixes the inter-op pool at its first parallel work.
                    notApplied.add(source + ": libtorch's inter-op pool had already started with " + JniUtils.getNumInteropThreads() + " threads");
                }
            }
        }
        return notApplied;
    }

    /** Whether this process has loaded libtorch already (then DJL will not read the properties again). */
    private static boolean engineLoaded() {
        try {
            return TorchSettings.loadedLibTorch().isPresent();
        } catch (IllegalStateException e) {
            return true; // cannot tell (no /proc): load it and set the threads directly
        }
    }

    /** {@code wanted} threads, or fewer when the agent's limit is lower. */
    public static int cap(int wanted) {
        int current = limit;
        return current > 0 ? Math.min(wanted, current) : wanted;
    }

    /** Forgets the limit (tests); what was set in libtorch and in system properties stays. */
    static synchronized void reset() {
        limit = 0;
    }

    /** The limit, or 0 when none is set. */
    public static int limit() {
        return limit;
    }
}
