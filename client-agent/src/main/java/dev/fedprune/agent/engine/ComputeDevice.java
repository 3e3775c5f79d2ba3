package dev.fedprune.agent.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.engine.StandardCapabilities;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Utils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device a command computes on ({@code cpu}, {@code cuda}, {@code cuda:N}), checked when the command
 * starts against the libtorch that DJL loaded: an agent told to compute on CUDA where there is no CUDA
 * stops before it enrolls, pulls a task or reads a model, with a message that says what it found and how
 * to fix it, instead of failing its first task.
 *
 * <p>DJL takes libtorch from the class path (the CPU build, {@code pytorch-native-cpu}) unless
 * {@value #LIBRARY_PATH} names a directory holding {@code libtorch.so}; it then loads the JNI bridge for
 * {@value #FLAVOR} from {@code pytorch-jni}, which ships bridges for the CPU and for {@value #CUDA_FLAVOR}
 * only. The agent runs DJL offline, so it never downloads natives itself.
 */
public final class ComputeDevice {
    private static final Logger LOG = LoggerFactory.getLogger(ComputeDevice.class);
    /** DJL's variable (or system property) naming an installed libtorch's {@code lib} directory. */
    public static final String LIBRARY_PATH = "PYTORCH_LIBRARY_PATH";
    /** DJL's variable (or system property) choosing the JNI bridge for an installed libtorch: {@code cpu} or {@value #CUDA_FLAVOR}. */
    public static final String FLAVOR = "PYTORCH_FLAVOR";
    /** The only CUDA flavor whose JNI bridge is in the agent's {@code pytorch-jni} jar (CUDA 12.8). */
    public static final String CUDA_FLAVOR = "cu128";
    static final String EXPECTED = "cpu, cuda or cuda:N";

    /**
     * What DJL loaded, as the check needs it.
     *
     * @param version     libtorch's version as DJL reports it ({@code 2.7.1-20250812} for the bundled build)
     * @param directory   where the loaded {@code libtorch.so} is
     * @param withCuda    whether that libtorch was built with CUDA
     * @param gpuCount    CUDA GPUs visible to this process (0 without CUDA)
     * @param libraryPath {@value #LIBRARY_PATH} as DJL read it, null when not set
     * @param flavor      {@value #FLAVOR} as DJL read it, null when not set
     */
    public record LoadedTorch(String version, Path directory, boolean withCuda, int gpuCount, String libraryPath, String flavor) {
        /** Loads the PyTorch engine if needed and describes it. */
        static LoadedTorch current() {
            Engine engine = Engine.getEngine("PyTorch");
            return new LoadedTorch(engine.getVersion(), Path.of(LibUtils.getLibtorchPath()), engine.hasCapability(StandardCapabilities.CUDA),
                    engine.getGpuCount(), setting(LIBRARY_PATH), setting(FLAVOR));
        }

        /** Whether the loaded libtorch is the one {@code libraryPath} names, rather than the bundled one DJL falls back to. */
        boolean fromLibraryPath() {
            if (libraryPath == null) {
                return false;
            }
            for (String entry : libraryPath.split(java.io.File.pathSeparator)) {
                if (entry.isBlank()) {
                    continue;
                }
                Path path = Path.of(entry).toAbsolutePath().normalize();
                if (path.equals(directory.toAbsolutePath().normalize())
                        || (path.getFileName() != null && path.getFileName().toString().equals("libtorch.so")
                                && directory.toAbsolutePath().normalize().equals(path.getParent()))) {
                    return true;
                }
            }
            return false;
        }
    }

    /** The device cannot be used in this process; the message names the setting, what was found and the fix. */
    public static final class UnavailableDeviceException extends IllegalStateException {
        UnavailableDeviceException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private ComputeDevice() {
    }

    /**
     * The device {@code name} names, given by {@code setting} ({@code --device}, {@code FEDPRUNE_AGENT_DEVICE},
     * {@code /etc/fedprune-agent/agent.yaml: device}), after checking that this process can compute on it.
     * {@code cpu} loads nothing; {@code cuda}, {@code gpu} (the same) and {@code cuda:N} load the PyTorch
     * engine and need a libtorch built with CUDA that sees GPU N.
     *
     * @throws IllegalArgumentException   for a name that is not a device, naming the setting
     * @throws UnavailableDeviceException for a CUDA device this process cannot compute on
     */
    public static Device require(String name, String setting) {
        Device device = parse(name, setting);
        if (!device.isGpu()) {
            return device;
        }
        LoadedTorch torch;
        try {
            torch = LoadedTorch.current();
        } catch (EngineException e) {
            throw new UnavailableDeviceException(setting + ": " + name + " needs the PyTorch engine, which did not load (" + settingsInEffect()
                    + "): " + rootMessage(e) + ". " + fix(), e);
        }
        check(device, name, setting, torch);
        LOG.info("computing on {} ({}): libtorch {} with CUDA from {}, {} GPU(s) visible", device, setting, torch.version(), torch.directory(),
                torch.gpuCount());
        return device;
    }

    /**
     * {@code cpu}, {@code cuda}, {@code gpu} or {@code cuda:N}, as {@code agent.yaml}'s {@code device} takes them.
     *
     * @throws IllegalArgumentException naming {@code setting}, what was expected and what was found
     */
    static Device parse(String name, String setting) {
        String text = name == null ? "" : name.strip();
        if (text.equals("cpu")) {
            return Device.cpu();
        }
        if (text.equals("cuda") || text.equals("gpu")) {
            return Device.gpu();
        }
        if (text.matches("cuda:[0-9]{1,3}")) {
            return Device.gpu(Integer.parseInt(text.substring(5)));
        }
        throw new IllegalArgumentException(setting + ": expected " + EXPECTED + ", got \"" + name + "\"");
    }

    /** Throws unless {@code torch} can compute on {@code device}; {@code name} and {@code setting} are what was asked and where. */
    static void check(Device device, String name, String setting, LoadedTorch torch) {
        if (!device.isGpu()) {
            return;
        }
        String found = "DJL loaded libtorch " + torch.version() + " from " + torch.directory();
        if (!torch.withCuda()) {
            throw new UnavailableDeviceException(setting + ": " + name + " needs a libtorch built with CUDA, but " + found
                    + ", a CPU-only build (" + origin(torch) + "). " + fix(), null);
        }
        if (torch.gpuCount() == 0) {
            throw new UnavailableDeviceException(setting + ": " + name + " needs a CUDA GPU, but none is visible to this process: " + found
                    + ", built with CUDA (" + origin(torch) + "), and the CUDA driver reports no GPU. Check nvidia-smi, CUDA_VISIBLE_DEVICES,"
                    + " and that the service may see the GPU (PrivateDevices=no in the systemd unit); or set the device to cpu", null);
        }
        if (device.getDeviceId() >= torch.gpuCount()) {
            throw new UnavailableDeviceException(setting + ": " + name + " is not a GPU of this machine: " + found + ", built with CUDA ("
                    + origin(torch) + "), which sees " + torch.gpuCount() + " GPU(s), cuda:0 to cuda:" + (torch.gpuCount() - 1)
                    + ". Give one of those (CUDA_VISIBLE_DEVICES renumbers them from 0), or cuda for the first", null);
        }
    }

    /** Where the loaded libtorch came from, in terms of the variables that choose it. */
    static String origin(LoadedTorch torch) {
        if (torch.libraryPath() == null) {
            return "the one that ships with the agent, pytorch-native-cpu; " + LIBRARY_PATH + " is not set";
        }
        if (!torch.fromLibraryPath()) {
            return LIBRARY_PATH + "=" + torch.libraryPath() + " holds no libtorch.so, so DJL fell back to the CPU build that ships with the agent";
        }
        return LIBRARY_PATH + "=" + torch.libraryPath() + ", " + (torch.flavor() == null ? FLAVOR + " not set" : FLAVOR + "=" + torch.flavor());
    }

    /** The way to a CUDA libtorch, for the messages. */
    private static String fix() {
        return "Install libtorch " + supportedLibTorchVersion() + " for CUDA 12.8 and start the agent with " + LIBRARY_PATH
                + "=<its lib directory> and " + FLAVOR + "=" + CUDA_FLAVOR + " (SITE.md, \"GPU sites (CUDA)\"), or set the device to cpu";
    }

    private static String settingsInEffect() {
        String libraryPath = setting(LIBRARY_PATH);
        String flavor = setting(FLAVOR);
        return (libraryPath == null ? LIBRARY_PATH + " not set" : LIBRARY_PATH + "=" + libraryPath) + ", "
                + (flavor == null ? FLAVOR + " not set" : FLAVOR + "=" + flavor);
    }

    /** The variable as DJL reads it (environment first, then the system property), null when unset or empty. */
    private static String setting(String name) {
        String value = Utils.getEnvOrSystemProperty(name);
        return value == null || value.isEmpty() ? null : value;
    }

    /**
     * The libtorch version the agent's JNI bridge is built for ({@code 2.7.1}): DJL loads no other offline,
     * since a bridge for another version would have to be downloaded.
     */
    static String supportedLibTorchVersion() {
        try (InputStream in = LibUtils.class.getResourceAsStream("/jnilib/pytorch.properties")) {
            if (in == null) {
                throw new IllegalStateException("pytorch-jni is not on the class path: no jnilib/pytorch.properties");
            }
            Properties properties = new Properties();
            properties.load(in);
            String jniVersion = properties.getProperty("jni_version", "");
            return jniVersion.contains("-") ? jniVersion.substring(0, jniVersion.indexOf('-')) : jniVersion;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read jnilib/pytorch.properties", e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + ": " + root;
    }
}
