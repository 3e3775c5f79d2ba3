package dev.fedprune.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a site sees when it asks for CUDA on a machine whose libtorch has none (this build's CPU libtorch):
 * every command that computes stops at start with exit code 2, naming the setting, what DJL loaded and the fix.
 */
class CudaDeviceCommandTest {
    private static final String NEEDS_CUDA = "cuda needs a libtorch built with CUDA, but DJL loaded libtorch ";
    private static final String FIX = "start the agent with PYTORCH_LIBRARY_PATH=<its lib directory> and PYTORCH_FLAVOR=cu128";

    @TempDir
    Path dir;

    @BeforeEach
    void cpuOnlyLibtorch() {
        assumeFalse(Engine.getEngine("PyTorch").hasCapability(StandardCapabilities.CUDA), "this machine's libtorch has CUDA");
    }

    @Test
    void runWithDeviceCudaInAgentYamlFailsBeforeTheEnrollmentIsRead() throws Exception {
        Path data = Files.writeString(dir.resolve("calibration.jsonl"), "{\"ids\":[1,2]}\n");
        Path config = Files.writeString(dir.resolve("agent.yaml"), "workdir: " + dir.resolve("not-enrolled") + "\ndevice: cuda\ndata:\n  tokens: "
                + data + "\n");
        ConfigFileCommandTest.Cli run = ConfigFileCommandTest.Cli.run("run", "--config", config.toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().startsWith(config + ": device: " + NEEDS_CUDA), run.err());
        assertTrue(run.err().contains(FIX), run.err());
        assertFalse(run.err().contains("holds no enrollment"), "the device is checked first: " + run.err());
        assertEquals(1, run.err().strip().lines().count(), "one line for the journal: " + run.err());

        ConfigFileCommandTest.Cli flag = ConfigFileCommandTest.Cli.run("run", "--config", config.toString(), "--device", "cuda:1");
        assertTrue(flag.err().startsWith("--device: cuda:1 needs a libtorch built with CUDA"), flag.err());
    }

    @Test
    void pruneAndEvalWithDeviceCudaFailBeforeReadingTheModel() {
        Path absent = dir.resolve("no-model");
        ConfigFileCommandTest.Cli prune = ConfigFileCommandTest.Cli.run("prune", "--model", absent.toString(), "--method", "magnitude",
                "--device", "cuda", "--out", dir.resolve("out").toString());
        assertEquals(2, prune.exit());
        assertTrue(prune.err().startsWith("error: --device: " + NEEDS_CUDA), prune.err());
        assertTrue(prune.err().contains(FIX), prune.err());

        ConfigFileCommandTest.Cli eval = ConfigFileCommandTest.Cli.run("eval", "--model", absent.toString(), "--data", dir.resolve("d").toString(),
                "--device", "gpu");
        assertEquals(2, eval.exit());
        assertTrue(eval.err().startsWith("error: --device: gpu needs a libtorch built with CUDA"), eval.err());
    }

    @Test
    void unknownDeviceNamesAreRefusedAtStartNamingTheFlag() {
        ConfigFileCommandTest.Cli prune = ConfigFileCommandTest.Cli.run("prune", "--model", dir.resolve("m").toString(), "--method", "magnitude",
                "--device", "tpu", "--out", dir.resolve("out").toString());
        assertEquals(2, prune.exit());
        assertEquals("error: --device: expected cpu, cuda or cuda:N, got \"tpu\"" + System.lineSeparator(), prune.err());

        ConfigFileCommandTest.Cli run = ConfigFileCommandTest.Cli.run("run", "--device", "cuda:x", "--workdir", dir.resolve("w").toString());
        assertEquals(2, run.exit());
        assertEquals("--device: expected cpu, cuda or cuda:N, got \"cuda:x\"" + System.lineSeparator(), run.err());
    }
}
