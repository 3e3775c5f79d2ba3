package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sharded BF16 checkpoint with grouped-query attention (2 shards plus index, tokenizer and
 * generation config) through the coordinator and three agents over real gRPC, checked against the same
 * weights in one {@code model.safetensors}: the global masks are identical, and the pruned model keeps
 * the shard layout, the index, the dtype and the other files.
 */
class ShardedCheckpointJobTest {
    @TempDir
    static Path dir;
    static Path single;
    static Path sharded;

    @BeforeAll
    static void models() throws Exception {
        // 4 query heads sharing 2 key/value heads, BF16, untied embeddings: the layout of LLaMA-family checkpoints.
        SyntheticLlama.Shape shape = new SyntheticLlama.Shape(3, 32, 64, 4, 2, 50, 32, false, DType.BF16);
        single = dir.resolve("single");
        sharded = dir.resolve("sharded");
        SyntheticLlama.writeSharded(single, shape, 11, 1, SyntheticLlama.Progress.NONE);
        SyntheticLlama.writeSharded(sharded, shape, 11, 2, SyntheticLlama.Progress.NONE);
        Files.writeString(sharded.resolve("tokenizer.json"), "{\"model\":{\"type\":\"BPE\"}}");
        Files.writeString(sharded.resolve("generation_config.json"), "{\"max_length\":32}");
    }

    private Path runJob(String name, Path model, String method, String strategy) throws Exception {
        Path dataDir = dir.resolve(name);
        Path data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3,9,4,7]}\n{\"ids\":[5,6,7,8,30,2]}\n");
        String spec = """
            name: %s
            model: %s
            localPruner: %s
            localComparisonGroup: row
            sparsity: 0.5
            comparisonGroup: layer
            strategy: %s
            calibrationSamples: 2
            sequenceLength: 6
            agentsPerRound: 3
            quorum: 3
            deadlineSeconds: 120
            seed: 42
            """.formatted(name, model, method, strategy);
        try (Federation fed = new Federation(dataDir, TestDatabase.h2(dataDir))) {
            for (int i = 0; i < 3; i++) {
                // One-shot magnitude: each agent perturbs the weights differently so that the votes disagree;
                // iterative Wanda: the agents' own runtime on the (downloaded) checkpoint.
                fed.startAgent("agent-" + i, data, dataDir.resolve("agent-" + i),
                        method.equals("magnitude") ? FederatedJobTest.engine(i) : AgentLoop.defaultEngines());
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            JobRecord job = fed.awaitFinal(jobId, 120_000);
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + " " + fed.node.store().events(jobId));
            return Path.of(job.resultDir());
        }
    }

    @Test
    void oneShotVotesOnAShardedCheckpointGiveTheSingleFileMaskAndKeepItsLayout() throws Exception {
        Path fromSingle = runJob("one-shot-single", single, "magnitude", "one-shot");
        Path fromSharded = runJob("one-shot-sharded", sharded, "magnitude", "one-shot");
        Map<String, BitMask> mask = FederatedJobTest.readMasks(fromSharded);
        assertEquals(FederatedJobTest.readMasks(fromSingle), mask);
        assertEquals(7 * 3, mask.size(), "seven projections of three layers");

        Path out = fromSharded.resolve("model");
        assertEquals(names(sharded), names(out), "the same files: config, index, both shards, tokenizer, generation config");
        assertEquals(Files.readString(sharded.resolve(Checkpoint.INDEX)), Files.readString(out.resolve(Checkpoint.INDEX)));
        assertEquals(Files.readString(sharded.resolve("tokenizer.json")), Files.readString(out.resolve("tokenizer.json")));
        try (Checkpoint original = Checkpoint.open(sharded); Checkpoint pruned = Checkpoint.open(out)) {
            assertEquals(original.files().size(), pruned.files().size());
            for (int f = 0; f < original.files().size(); f++) {
                List<String> before = original.files().get(f).tensors().stream().map(TensorInfo::name).toList();
                List<String> after = pruned.files().get(f).tensors().stream().map(TensorInfo::name).toList();
                assertEquals(before, after, "shard " + original.files().get(f).fileName() + " holds the same tensors in the same order");
            }
            for (TensorInfo info : original.infos()) {
                assertEquals(DType.BF16, pruned.info(info.name()).dtype(), info.name());
                float[] o = original.readFloats(info.name());
                float[] w = pruned.readFloats(info.name());
                BitMask m = mask.get(info.name());
                if (PrunableTensors.isPrunable(info.name())) {
                    for (int i = 0; i < w.length; i++) {
                        assertEquals(m.get(i) ? 0f : o[i], w[i], info.name() + "[" + i + "]");
                    }
                } else {
                    assertArrayEquals(o, w, info.name());
                }
            }
        }
    }

    @Test
    void iterativeWandaOnAShardedCheckpointGivesTheSingleFileMask() throws Exception {
        Map<String, BitMask> fromSingle = FederatedJobTest.readMasks(runJob("iterative-single", single, "wanda", "iterative"));
        Map<String, BitMask> fromSharded = FederatedJobTest.readMasks(runJob("iterative-sharded", sharded, "wanda", "iterative"));
        assertEquals(fromSingle, fromSharded);
        for (BitMask m : fromSharded.values()) {
            assertEquals(0.5, (double) m.cardinality() / m.length(), 1e-9);
        }
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
