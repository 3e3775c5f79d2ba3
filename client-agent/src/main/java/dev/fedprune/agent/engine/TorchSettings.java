package dev.fedprune.agent.engine;

import ai.djl.engine.Engine;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Process-wide settings of the bundled libtorch that agents need to compute correctly, applied once
 * before the first CNN is built.
 *
 * <p>oneDNN is turned off for libtorch's CPU operators ({@code at::globalContext().setUserEnabledMkldnn(false)},
 * what {@code torch.backends.mkldnn.enabled = False} does in Python). The oneDNN 3.7.1 inside libtorch
 * 2.7.1 returns wrong input gradients from its blocked direct convolution, backward-data
 * ({@code jit:avx512_core} and {@code jit:avx2}), whenever a convolution's output channels are not a
 * multiple of the instruction set's channel block (16 with AVX-512, 8 with AVX2): garbage values, NaN
 * at times, different on every run (docs/benchmarks.md, "Engine correctness: oneDNN's backward-data convolution"). Without
 * oneDNN libtorch convolves with its own im2col and MKL's sgemm, which are correct on every x86-64
 * processor. {@code -Dfedprune.engine.onednn=true} turns oneDNN back on (to reproduce or measure the
 * fault); {@link EngineSelfCheck} then refuses the engine on processors where the fault shows.
 *
 * <p>NNPACK is turned off as well: libtorch tries it for forward convolutions of 16 images or more, and
 * on processors its cpuinfo does not know (AMD family 26) it fails to start and prints a warning per
 * call; where it starts it convolves by Winograd, a different rounding on some machines than on others.
 * With both off every processor runs the same convolution algorithm.
 *
 * <p>libtorch has no environment variable for this switch, so it is set through the two exported C++
 * functions with JNA, after DJL has loaded {@code libtorch_cpu.so}.
 */
public final class TorchSettings {
    private static final Logger LOG = LoggerFactory.getLogger(TorchSettings.class);
    static final String ONEDNN_PROPERTY = "fedprune.engine.onednn";
    private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
    private static final String SET_ONEDNN = "_ZN2at7Context20setUserEnabledMkldnnEb";
    private static final String GET_ONEDNN = "_ZNK2at7Context17userEnabledMkldnnEv";
    private static final String SET_NNPACK = "_ZN2at7Context20setUserEnabledNNPACKEb";
    private static final String GET_NNPACK = "_ZNK2at7Context17userEnabledNNPACKEv";

    private static boolean applied;
    /** The process's libtorch_cpu.so, found once in /proc/self/maps; every access is under the class lock. */
    private static NativeLibrary libTorch;

    private TorchSettings() {
    }

    /**
     * Loads the PyTorch engine if needed and applies the settings (idempotent, thread-safe).
     *
     * @throws IllegalStateException if libtorch's context cannot be reached: computing on with oneDNN
     *                               would risk silently wrong gradients, so nothing may train
     */
    public static synchronized void apply() {
        if (applied) {
            return;
        }
        System.setProperty("ai.djl.offline", "true");
        Engine.getEngine("PyTorch");
        boolean wanted = Boolean.parseBoolean(System.getProperty(ONEDNN_PROPERTY, "false"));
        setOneDnnEnabled(wanted);
        set(SET_NNPACK, GET_NNPACK, false, "NNPACK");
        LOG.debug("libtorch oneDNN operators {}, NNPACK off", wanted ? "on (-D" + ONEDNN_PROPERTY + "=true)" : "off");
        applied = true;
    }

    /** Whether libtorch's CPU operators may use oneDNN right now. */
    public static synchronized boolean oneDnnEnabled() {
        return get(GET_ONEDNN);
    }

    /**
     * Turns libtorch's use of oneDNN on or off for the whole process; takes effect for the next operator.
     * Tests and benchmarks use it to compare the two; agents keep what {@link #apply()} chose.
     */
    public static synchronized void setOneDnnEnabled(boolean enabled) {
        Engine.getEngine("PyTorch");
        set(SET_ONEDNN, GET_ONEDNN, enabled, "oneDNN");
    }

    private static void set(String setter, String getter, boolean enabled, String what) {
        function(setter).invokeVoid(new Object[] {globalContext(), enabled});
        if (get(getter) != enabled) {
            throw new IllegalStateException("libtorch did not turn " + what + (enabled ? " on" : " off"));
        }
    }

    private static boolean get(String getter) {
        return (function(getter).invokeInt(new Object[] {globalContext()}) & 0xff) != 0;
    }

    private static Pointer globalContext() {
        Pointer context = function(GLOBAL_CONTEXT).invokePointer(new Object[0]);
        if (context == null) {
            throw new IllegalStateException("libtorch returned no global context");
        }
        return context;
    }

    private static Function function(String symbol) {
        if (libTorch == null) {
            Path library = loadedLibTorch().orElseThrow(() -> new IllegalStateException(
                    "libtorch_cpu.so is not loaded in this process (is DJL's PyTorch engine on the class path?)"));
            libTorch = NativeLibrary.getInstance(library.toString());
        }
        try {
            return libTorch.getFunction(symbol);
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException(libTorch.getFile() + " does not export " + symbol + " (a libtorch other than 2.x?)", e);
        }
    }

    /** The {@code libtorch_cpu.so} this process mapped, from {@code /proc/self/maps}. */
    static Optional<Path> loadedLibTorch() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .map(line -> line.substring(line.lastIndexOf(' ') + 1))
                    .filter(path -> path.endsWith("/libtorch_cpu.so"))
                    .findFirst()
                    .map(Path::of);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/maps to find libtorch_cpu.so", e);
        }
    }
}
