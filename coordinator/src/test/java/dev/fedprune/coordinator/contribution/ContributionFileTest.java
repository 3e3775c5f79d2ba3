package dev.fedprune.coordinator.contribution;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.coordinator.fedprllm.MaskSets;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.TensorMask;
import java.io.ByteArrayOutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stored contributions parsed without their masks, the masks read one tensor at a time, and bad bytes refused precisely. */
class ContributionFileTest {
    @TempDir
    Path dir;

    static Map<String, BitMask> masks() {
        SplittableRandom random = new SplittableRandom(3);
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (String name : new String[] {"a", "b", "c"}) {
            BitMask m = new BitMask(1000 + name.charAt(0));
            for (long i = 0; i < m.length(); i++) {
                // "b" is very sparse, so it goes entropy-coded; the others bit-packed.
                m.set(i, random.nextDouble() < (name.equals("b") ? 0.01 : 0.5));
            }
            masks.put(name, m);
        }
        return masks;
    }

    Path write(Contribution c) throws Exception {
        return Files.write(Files.createTempFile(dir, "c", ".pb"), c.toByteArray());
    }

    static Map<String, Long> lengths(Map<String, BitMask> masks) {
        Map<String, Long> out = new LinkedHashMap<>();
        masks.forEach((n, m) -> out.put(n, m.length()));
        return out;
    }

    @Test
    void headerWithoutMasksAndEachMaskReadOnItsOwn() throws Exception {
        Map<String, BitMask> masks = masks();
        ModelQuality quality = ModelQuality.newBuilder().setMetric("perplexity").setValue(12.5).setSamples(4).build();
        Contribution c = Contribution.newBuilder().setTaskId("task-1").setSampleCount(17).setMasks(MaskSets.encode(masks))
                .setPriorModelQuality(quality).build();
        try (ContributionFile file = ContributionFile.open(write(c))) {
            assertEquals("task-1", file.header().getTaskId());
            assertEquals(17, file.header().getSampleCount());
            assertEquals(quality, file.header().getPriorModelQuality());
            assertFalse(file.header().hasMasks(), "the header never holds the masks");
            assertTrue(file.hasMasks());
            Map<String, MaskSetIndex.Entry> entries = file.masks().check(lengths(masks));
            for (Map.Entry<String, BitMask> e : masks.entrySet()) {
                assertEquals(e.getValue(), file.readMask(entries.get(e.getKey())), e.getKey());
            }
            assertEquals(c, file.message());
        }
    }

    @Test
    void contributionsWithoutMasksAreTheWholeMessage() throws Exception {
        Contribution c = Contribution.newBuilder().setTaskId("t").setSampleCount(3).setSparseUpdate(SparseUpdate.getDefaultInstance()).build();
        try (ContributionFile file = ContributionFile.open(write(c))) {
            assertFalse(file.hasMasks());
            assertEquals(c, file.message());
        }
    }

    @Test
    void theStreamedMaskSetIsTheMessageTheProtobufLibraryWrites() throws Exception {
        Map<String, BitMask> masks = masks();
        Path file = dir.resolve("mask.pb");
        String sha;
        try (MaskSetWriter writer = MaskSetWriter.create(file)) {
            for (Map.Entry<String, BitMask> e : masks.entrySet()) {
                writer.add(e.getKey(), e.getValue());
            }
            sha = writer.finish();
        }
        byte[] expected = MaskSets.encode(masks).toByteArray();
        assertArrayEquals(expected, Files.readAllBytes(file));
        assertEquals(Digests.sha256Hex(expected), sha);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MaskSetIndex index = MaskSetIndex.scan(ch, "mask");
            Map<String, MaskSetIndex.Entry> entries = index.check(lengths(masks));
            assertEquals(masks.get("b"), index.read(ch, entries.get("b")));
        }
    }

    @Test
    void refusesWhatIsNotAContributionOfThisContract() throws Exception {
        Map<String, BitMask> masks = masks();
        MaskSet set = MaskSets.encode(masks);
        Contribution good = Contribution.newBuilder().setTaskId("t").setMasks(set).build();

        // An unknown field inside a TensorMask.
        TensorMask padded = set.getMasks(1).toBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(9, UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFrom(new byte[64])).build()).build()).build();
        Contribution withPadding = good.toBuilder().setMasks(set.toBuilder().setMasks(1, padded)).build();
        InvalidContributionException e = assertThrows(InvalidContributionException.class, () -> ContributionFile.open(write(withPadding)));
        assertEquals("masks[1]", e.field());
        assertTrue(e.getMessage().contains("field number 9"), e.getMessage());

        // An unknown top-level field.
        Contribution topLevel = good.toBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(40, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
        assertEquals("payload", assertThrows(InvalidContributionException.class, () -> ContributionFile.open(write(topLevel))).field());

        // Masks and a sparse update at once (the wire allows it; the contract does not).
        ByteArrayOutputStream both = new ByteArrayOutputStream();
        good.writeTo(both);
        Contribution.newBuilder().setSparseUpdate(SparseUpdate.getDefaultInstance()).build().writeTo(both);
        Path bothFile = Files.write(dir.resolve("both.pb"), both.toByteArray());
        e = assertThrows(InvalidContributionException.class, () -> ContributionFile.open(bothFile));
        assertTrue(e.getMessage().contains("both masks and sparse_update"), e.getMessage());

        // The masks twice.
        ByteArrayOutputStream twice = new ByteArrayOutputStream();
        good.writeTo(twice);
        Contribution.newBuilder().setMasks(set).build().writeTo(twice);
        Path twiceFile = Files.write(dir.resolve("twice.pb"), twice.toByteArray());
        assertEquals("masks", assertThrows(InvalidContributionException.class, () -> ContributionFile.open(twiceFile)).field());

        // Truncated bytes.
        byte[] bytes = good.toByteArray();
        Path truncated = Files.write(dir.resolve("truncated.pb"), java.util.Arrays.copyOf(bytes, bytes.length - 5));
        assertThrows(InvalidProtocolBufferException.class, () -> ContributionFile.open(truncated));

        // Names and lengths checked against the task.
        try (ContributionFile file = ContributionFile.open(write(good))) {
            Map<String, Long> wrongLength = lengths(masks);
            wrongLength.put("a", 5L);
            assertEquals("masks[a].num_weights", assertThrows(InvalidContributionException.class, () -> file.masks().check(wrongLength)).field());
            Map<String, Long> more = lengths(masks);
            more.put("d", 8L);
            assertTrue(assertThrows(InvalidContributionException.class, () -> file.masks().check(more)).getMessage().contains("missing mask for tensor 'd'"));
        }
        // A mask whose bytes do not decode.
        TensorMask broken = set.getMasks(0).toBuilder().setData(ByteString.copyFrom(new byte[3])).build();
        Contribution withBroken = good.toBuilder().setMasks(set.toBuilder().setMasks(0, broken)).build();
        try (ContributionFile file = ContributionFile.open(write(withBroken))) {
            MaskSetIndex.Entry entry = file.masks().check(lengths(masks)).get("a");
            assertEquals("masks[a].data", assertThrows(InvalidContributionException.class, () -> file.readMask(entry)).field());
        }
    }
}
