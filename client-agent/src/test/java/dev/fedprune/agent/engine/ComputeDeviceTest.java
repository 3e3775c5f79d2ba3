package dev.fedprune.agent.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.pytorch.jni.LibUtils;
import dev.fedprune.agent.engine.ComputeDevice.LoadedTorch;
import dev.fedprune.agent.engine.ComputeDevice.UnavailableDeviceException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ComputeDeviceTest {
    private static final Path CUDA_LIB = Path.of("/opt/libtorch/lib");

    private static LoadedTorch cudaTorch(int gpus) {
        return new LoadedTorch("2.7.1", CUDA_LIB, true, gpus, CUDA_LIB.toString(), "cu128");
    }

    @Test
    void namesOfDevicesAreParsedAndOthersRefusedNamingTheSetting() {
        assertEquals(Device.cpu(), ComputeDevice.parse("cpu", "--device"));
        assertEquals(Device.gpu(0), ComputeDevice.parse("cuda", "--device"));
        assertEquals(Device.gpu(0), ComputeDevice.parse("gpu", "--device"));
        assertEquals(Device.gpu(2), ComputeDevice.parse("cuda:2", "--device"));
        for (String bad : new String[] {"tpu", "cuda:x", "cuda:", "CUDA", "cuda:1234", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputeDevice.parse(bad, "FEDPRUNE_AGENT_DEVICE"));
            assertEquals("FEDPRUNE_AGENT_DEVICE: expected cpu, cuda or cuda:N, got \"" + bad + "\"", e.getMessage());
        }
    }

    @Test
    void cpuLoadsNothingAndNeedsNothing() {
        assertEquals(Device.cpu(), ComputeDevice.require("cpu", "--device"));
    }

    @Test
    void cudaOnTheCpuLibtorchThatShipsWithTheAgentFailsSayingWhatWasLoadedAndHowToFixIt() {
        assumeFalse(Engine.getEngine("PyTorch").hasCapability(StandardCapabilities.CUDA), "this machine's libtorch has CUDA");
        assumeFalse(System.getenv(ComputeDevice.LIBRARY_PATH) != null, "PYTORCH_LIBRARY_PATH is set here");
        UnavailableDeviceException e = assertThrows(UnavailableDeviceException.class, () -> ComputeDevice.require("cuda", "--device"));
        String version = Engine.getEngine("PyTorch").getVersion();
        assertEquals("--device: cuda needs a libtorch built with CUDA, but DJL loaded libtorch " + version + " from "
                + Path.of(LibUtils.getLibtorchPath()) + ", a CPU-only build (the one that ships with the agent, pytorch-native-cpu;"
                + " PYTORCH_LIBRARY_PATH is not set). Install libtorch " + ComputeDevice.supportedLibTorchVersion() + " for CUDA 12.8 and start"
                + " the agent with PYTORCH_LIBRARY_PATH=<its lib directory> and PYTORCH_FLAVOR=cu128 (SITE.md, \"GPU sites (CUDA)\"),"
                + " or set the device to cpu", e.getMessage());
    }

    @Test
    void aLibraryPathWithoutLibtorchIsNamedAsTheReasonDjlFellBackToTheCpuBuild() {
        LoadedTorch fellBack = new LoadedTorch("2.7.1-20250812", Path.of("/home/a/.djl.ai/pytorch/2.7.1-20250812-cpu-linux-x86_64"), false, 0,
                "/opt/libtorch", "cu128");
        UnavailableDeviceException e = assertThrows(UnavailableDeviceException.class,
                () -> ComputeDevice.check(Device.gpu(), "cuda", "/etc/fedprune-agent/agent.yaml: device", fellBack));
        assertTrue(e.getMessage().startsWith("/etc/fedprune-agent/agent.yaml: device: cuda needs a libtorch built with CUDA, but DJL loaded"
                + " libtorch 2.7.1-20250812 from /home/a/.djl.ai/pytorch/2.7.1-20250812-cpu-linux-x86_64, a CPU-only build"
                + " (PYTORCH_LIBRARY_PATH=/opt/libtorch holds no libtorch.so, so DJL fell back to the CPU build that ships with the agent)."),
                e.getMessage());

        LoadedTorch installedCpu = new LoadedTorch("2.7.1", CUDA_LIB, false, 0, CUDA_LIB + "/libtorch.so", null);
        assertTrue(installedCpu.fromLibraryPath(), "a path to libtorch.so itself names its directory, as in DJL");
        assertTrue(assertThrows(UnavailableDeviceException.class, () -> ComputeDevice.check(Device.gpu(), "cuda", "--device", installedCpu))
                .getMessage().contains("a CPU-only build (PYTORCH_LIBRARY_PATH=/opt/libtorch/lib/libtorch.so, PYTORCH_FLAVOR not set)"));
    }

    @Test
    void aCudaLibtorchWithoutAVisibleGpuPointsAtTheDriverAndTheServiceSandbox() {
        UnavailableDeviceException e = assertThrows(UnavailableDeviceException.class,
                () -> ComputeDevice.check(Device.gpu(), "cuda", "FEDPRUNE_AGENT_DEVICE", cudaTorch(0)));
        assertEquals("FEDPRUNE_AGENT_DEVICE: cuda needs a CUDA GPU, but none is visible to this process: DJL loaded libtorch 2.7.1 from"
                + " /opt/libtorch/lib, built with CUDA (PYTORCH_LIBRARY_PATH=/opt/libtorch/lib, PYTORCH_FLAVOR=cu128), and the CUDA driver"
                + " reports no GPU. Check nvidia-smi, CUDA_VISIBLE_DEVICES, and that the service may see the GPU (PrivateDevices=no in the"
                + " systemd unit); or set the device to cpu", e.getMessage());
    }

    @Test
    void aGpuNumberBeyondTheVisibleOnesIsRefusedAndTheOthersPass() {
        UnavailableDeviceException e = assertThrows(UnavailableDeviceException.class,
                () -> ComputeDevice.check(Device.gpu(2), "cuda:2", "--device", cudaTorch(2)));
        assertTrue(e.getMessage().startsWith("--device: cuda:2 is not a GPU of this machine: DJL loaded libtorch 2.7.1 from /opt/libtorch/lib,"
                + " built with CUDA (PYTORCH_LIBRARY_PATH=/opt/libtorch/lib, PYTORCH_FLAVOR=cu128), which sees 2 GPU(s), cuda:0 to cuda:1."),
                e.getMessage());
        ComputeDevice.check(Device.gpu(1), "cuda:1", "--device", cudaTorch(2));
        ComputeDevice.check(Device.gpu(), "cuda", "--device", cudaTorch(1));
        ComputeDevice.check(Device.cpu(), "cpu", "--device", new LoadedTorch("2.7.1", CUDA_LIB, false, 0, null, null));
    }

    @Test
    void theJniBridgeOfTheDocumentedCudaFlavorShipsWithTheAgentForTheLoadedLibtorchVersion() {
        // SITE.md tells sites to install libtorch of this version for cu128: DJL, being offline, loads only a bridge it has.
        assertNotNull(LibUtils.class.getResource("/jnilib/linux-x86_64/" + ComputeDevice.CUDA_FLAVOR + "/libdjl_torch.so"));
        String supported = ComputeDevice.supportedLibTorchVersion();
        assertFalse(supported.isEmpty());
        assertTrue(Engine.getEngine("PyTorch").getVersion().startsWith(supported + "-") || Engine.getEngine("PyTorch").getVersion().equals(supported),
                Engine.getEngine("PyTorch").getVersion() + " vs " + supported);
    }
}
