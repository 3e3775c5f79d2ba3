package dev.fedprune.simulations.scenario;

import dev.fedprune.agent.prune.LlmMaskEngine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulationRunnerTest {
    @TempDir
    Path dir;

    @Test
    void runsScenarioWithVirtualAgentsToCompletion() throws Exception {
        Scenario tiny = new Scenario("tiny", "synthetic", null, 3, Scenario.Partition.IID, 5,
                Map.of("localPruner", "magnitude", "sparsity", 0.7, "comparisonGroup", "row"));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        SimulationRunner.Result result = SimulationRunner.run(tiny, dir.resolve("out"),
                new LlmMaskEngine().byMethod(), new PrintStream(console, true));
        assertEquals("COMPLETED", result.state(), result.failureReason());
        // Row groups prune (int) (0.7 * row width) each: 44 of 64 in the 536 rows of width 64, 120 of 172 in the 64 down_proj rows.
        long pruned = 2 * (44L * 536 + 120L * 64);
        long total = 2 * (64L * 536 + 172L * 64);
        assertEquals(pruned, result.report().get("prunedWeights").asLong());
        assertEquals(total, result.report().get("prunableWeights").asLong());
        assertTrue(console.toString().contains("round 1/1 aggregated from 3 agents"), console.toString());
        assertTrue(Files.isRegularFile(result.resultDir().resolve("model/model.safetensors")));
    }

    @Test
    void partitionsAreDisjointCompleteAndSeeded() throws Exception {
        Path data = SimulationRunner.syntheticData(dir.resolve("d.jsonl"), 40, 1);
        for (Scenario.Partition p : Scenario.Partition.values()) {
            List<Path> a = Partitioner.split(data, 4, p, 0.5, 1, 7, dir.resolve("a-" + p));
            List<Path> b = Partitioner.split(data, 4, p, 0.5, 1, 7, dir.resolve("b-" + p));
            Set<String> seen = new HashSet<>();
            int total = 0;
            for (int i = 0; i < 4; i++) {
                List<String> lines = Files.readAllLines(a.get(i));
                assertEquals(lines, Files.readAllLines(b.get(i)), "same seed, same split");
                assertTrue(!lines.isEmpty());
                seen.addAll(lines);
                total += lines.size();
            }
            assertEquals(40, total);
            assertEquals(40, seen.size());
        }
        // More agents than categories is a valid category split (one topic per agent, see PartitionerTest); more agents than samples is not.
        assertThrows(IllegalArgumentException.class, () -> Partitioner.split(data, 41, Scenario.Partition.CATEGORY, 0, dir.resolve("c")));
    }
}
