package dev.fedprune.agent.iterative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Iterative rounds that resume from kept calibration states give the masks of rounds that recompute every layer. */
class KeptStatesTest {
    @TempDir
    static Path shared;
    static IterativeRounds job;

    @TempDir
    Path work;

    @BeforeAll
    static void model() throws IOException {
        job = new IterativeRounds(shared);
    }

    JobStates kept(JobStatesDirectory directory, String jobId) {
        return directory.retainOnly(jobId, "model-id");
    }

    static List<String> files(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @ParameterizedTest
    @EnumSource(value = PruneMethod.class, names = {"PRUNE_METHOD_WANDA", "PRUNE_METHOD_SPARSEGPT"})
    void everyLayerGetsTheSameMasksWithAndWithoutKeptStates(PruneMethod method) throws IOException {
        List<Map<String, BitMask>> recomputed = job.allRounds(method, null);
        JobStates states = kept(new JobStatesDirectory(work.resolve("calibration-states")), "job-1");
        try (IterativeRounds.CacheLog log = new IterativeRounds.CacheLog()) {
            for (int b = 0; b < IterativeRounds.LAYERS; b++) {
                log.reset();
                Map<String, BitMask> masks = job.round(method, b, states);
                assertEquals(7, masks.size());
                assertEquals(recomputed.get(b), masks, "layer " + b + " of " + method);
                // Round b keeps the input of layer b (the last layer's round keeps nothing, its job is over) ...
                assertEquals(b >= 1 && b < IterativeRounds.LAYERS - 1 ? List.of("layer-" + b + ".states") : List.of(), files(states.directory()));
                // ... and from round 2 on starts at the layer before its own instead of at the embeddings.
                String resumedLine = "INFO resuming at layer " + (b - 1) + " ";
                boolean resumed = log.messages().stream().anyMatch(m -> m.startsWith(resumedLine));
                assertEquals(b >= 2, resumed, log.messages().toString());
            }
        }
        // The global masks differ from the agent's own, so states kept under the agent's own masks would have shown above.
        assertNotEquals(recomputed.get(0), job.priorMasks(method, 1));
    }

    @Test
    void anAgentThatSatOutRoundsResumesFromTheLayerItKept() throws IOException {
        JobStates states = kept(new JobStatesDirectory(work), "job-2");
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 0, states);
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 1, states);
        try (IterativeRounds.CacheLog log = new IterativeRounds.CacheLog()) {
            Map<String, BitMask> masks = job.round(PruneMethod.PRUNE_METHOD_WANDA, 3, states); // round 2 went to other agents
            assertEquals(job.round(PruneMethod.PRUNE_METHOD_WANDA, 3, null), masks);
            assertTrue(log.messages().stream().anyMatch(m -> m.startsWith("INFO resuming at layer 1 ")), log.messages().toString());
        }
    }

    enum Damage { FLIPPED_STATE_BYTE, FLIPPED_KEY_BYTE, FLIPPED_LENGTH_BYTE, FLIPPED_CHECKSUM_BYTE, TRUNCATED, EXTENDED, OF_ANOTHER_JOB }

    @ParameterizedTest
    @EnumSource(Damage.class)
    void aDamagedOrForeignKeptFileIsDetectedAndNotUsed(Damage damage) throws IOException {
        JobStatesDirectory directory = new JobStatesDirectory(work);
        JobStates states = kept(directory, damage == Damage.OF_ANOTHER_JOB ? "other-job" : "job-3");
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 1, states);
        Path file = states.directory().resolve("layer-1.states");
        long size = Files.size(file);
        switch (damage) {
            case FLIPPED_STATE_BYTE -> flip(file, size / 2);
            case FLIPPED_KEY_BYTE -> flip(file, 20); // inside the key digest, after magic and version
            case FLIPPED_LENGTH_BYTE -> flip(file, 48); // the first sequence's token count
            case FLIPPED_CHECKSUM_BYTE -> flip(file, size - 1);
            case TRUNCATED -> truncate(file, size - 4);
            case EXTENDED -> Files.write(file, new byte[4], StandardOpenOption.APPEND);
            case OF_ANOTHER_JOB -> {
                // A well-formed file, but kept under another job's key, lands in this job's directory.
                byte[] foreign = Files.readAllBytes(file);
                states = kept(directory, "job-3");
                Files.write(states.directory().resolve("layer-1.states"), foreign);
            }
        }
        try (IterativeRounds.CacheLog log = new IterativeRounds.CacheLog()) {
            Map<String, BitMask> masks = job.round(PruneMethod.PRUNE_METHOD_WANDA, 2, states);
            assertEquals(job.round(PruneMethod.PRUNE_METHOD_WANDA, 2, null), masks, damage.toString());
            List<String> messages = log.messages();
            assertTrue(messages.stream().anyMatch(m -> m.startsWith("WARN kept calibration states ") && m.contains("not used")), messages.toString());
            assertFalse(messages.stream().anyMatch(m -> m.startsWith("INFO resuming")), messages.toString());
        }
        // The damaged file is gone; the round kept its own layer's input, which the next round uses.
        assertEquals(List.of("layer-2.states"), files(states.directory()));
        try (IterativeRounds.CacheLog log = new IterativeRounds.CacheLog()) {
            assertEquals(job.round(PruneMethod.PRUNE_METHOD_WANDA, 3, null), job.round(PruneMethod.PRUNE_METHOD_WANDA, 3, states));
            assertTrue(log.messages().stream().anyMatch(m -> m.startsWith("INFO resuming at layer 2 ")), log.messages().toString());
        }
    }

    @Test
    void keptStatesAreDroppedWhenTheirJobEnds() throws IOException {
        Path root = work.resolve("calibration-states");
        JobStatesDirectory directory = new JobStatesDirectory(root);
        JobStates a = kept(directory, "job-a");
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 1, a);
        assertEquals(List.of("layer-1.states"), files(a.directory()));
        // The round of the model's last layer: nothing after it resumes, so the job's states go.
        job.round(PruneMethod.PRUNE_METHOD_WANDA, IterativeRounds.LAYERS - 1, a);
        assertEquals(List.of(), files(a.directory()));

        job.round(PruneMethod.PRUNE_METHOD_WANDA, 1, a);
        // A task of another job: the agent loop drops the first job's states before it runs.
        directory.dropAllBut("job-b", "this agent now works on another job");
        assertEquals(List.of(), files(root));
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 1, kept(directory, "job-a"));
        // A round of another job keeps that job's states only.
        JobStates b = kept(directory, "job-b");
        assertEquals(List.of("job-b"), files(root));
        job.round(PruneMethod.PRUNE_METHOD_WANDA, 2, b);
        assertEquals(List.of("layer-2.states"), files(b.directory()));
        // The coordinator has no unfinished job, or the agent starts again: everything goes.
        new JobStatesDirectory(root).clear("left by an earlier run of this agent");
        assertEquals(List.of(), files(root));
    }

    @Test
    void jobIdsThatAreNoPlainFileNameGetADigestAsDirectory() {
        assertEquals("job-20250101-7", JobStatesDirectory.directoryName("job-20250101-7"));
        String odd = JobStatesDirectory.directoryName("../../etc");
        assertTrue(odd.matches("job-[0-9a-f]{32}"), odd);
        assertNotEquals(odd, JobStatesDirectory.directoryName("../../etd"));
    }

    private static void flip(Path file, long position) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            channel.read(one, position);
            one.put(0, (byte) (one.get(0) ^ 0x10)).rewind();
            channel.write(one, position);
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(size);
        }
    }
}
