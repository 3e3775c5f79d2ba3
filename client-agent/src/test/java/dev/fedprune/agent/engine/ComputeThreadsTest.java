package dev.fedprune.agent.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.junit.jupiter.api.Test;

/** limits.threads reaches libtorch: its intra-op threads are set, and the LLM runtime takes no more. */
class ComputeThreadsTest {
    @Test
    void theLimitSetsLibtorchsThreadsAndCapsWhatTheRuntimeAsksFor() {
        System.setProperty("ai.djl.offline", "true");
        Engine.getEngine("PyTorch");
        int before = JniUtils.getNumThreads();
        int wanted = before == 1 ? 2 : 1;
        try {
            List<String> notApplied = ComputeThreads.limitTo(wanted, "limits.threads");
            assertEquals(wanted, JniUtils.getNumThreads());
            assertEquals(wanted, ComputeThreads.limit());
            assertEquals(Math.min(8, wanted), ComputeThreads.cap(8));
            // In a test JVM the common pool and libtorch's inter-op pool may have started already: then it says so.
            notApplied.forEach(line -> assertEquals(true, line.startsWith("limits.threads: "), line));
        } finally {
            ComputeThreads.reset();
            JniUtils.setNumThreads(before);
            System.clearProperty("ai.djl.pytorch.num_threads");
            System.clearProperty("ai.djl.pytorch.num_interop_threads");
            System.clearProperty(ComputeThreads.COMMON_POOL_PROPERTY);
        }
        assertEquals(8, ComputeThreads.cap(8), "no limit: what is asked for");
    }
}
