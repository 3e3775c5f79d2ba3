package dev.fedprune.agent.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
    @TempDir
    Path dir;

    private final byte[] pixels = {0, 1, 2, 3, 4, 5, (byte) 250, (byte) 255, 9, 10, 11, 12};

    @Test
    void readsPlainAndGzipImageFilesAlike() throws IOException {
        byte[] content = IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {3, 2, 2}, pixels);
        for (boolean gzip : new boolean[] {false, true}) {
            ImageSet images = IdxReader.readImages(IdxFiles.write(dir.resolve("img" + gzip), content, gzip));
            assertEquals(3, images.count());
            assertEquals(2, images.rows());
            assertEquals(2, images.columns());
            assertEquals(250, images.pixel(1, 1, 0));
            assertEquals(255, images.pixel(1, 1, 1));
            float[] scaled = new float[4];
            images.copyScaled(1, scaled, 0);
            assertArrayEquals(new float[] {4 / 255f, 5 / 255f, 250 / 255f, 1f}, scaled);
        }
    }

    @Test
    void rejectsWrongMagicNamingFileAndField() throws IOException {
        Path labelsAsImages = IdxFiles.write(dir.resolve("labels"), IdxFiles.idx(IdxReader.LABELS_MAGIC, new int[] {3}, new byte[3]), true);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.readImages(labelsAsImages));
        assertEquals("magic", e.field());
        assertTrue(e.getMessage().startsWith(labelsAsImages.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("1 dimensions, expected 3"), e.getMessage());

        Path floats = IdxFiles.write(dir.resolve("floats"), IdxFiles.idx(0x00000D03, new int[] {1, 1, 1}, new byte[4]), false);
        assertEquals("magic", assertThrows(IdxFormatException.class, () -> IdxReader.readImages(floats)).field());
        Path text = IdxFiles.write(dir.resolve("text"), "hello world, not idx".getBytes(), false);
        assertEquals("magic", assertThrows(IdxFormatException.class, () -> IdxReader.readImages(text)).field());
    }

    @Test
    void rejectsTruncatedHeaderAndData() throws IOException {
        byte[] content = IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {3, 2, 2}, pixels);
        for (boolean gzip : new boolean[] {false, true}) {
            Path header = IdxFiles.write(dir.resolve("h" + gzip), Arrays.copyOf(content, 10), gzip);
            IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.readImages(header));
            assertEquals("dimension 1", e.field(), e.getMessage());
            Path data = IdxFiles.write(dir.resolve("d" + gzip), Arrays.copyOf(content, content.length - 3), gzip);
            e = assertThrows(IdxFormatException.class, () -> IdxReader.readImages(data));
            assertEquals("data", e.field());
            assertTrue(e.getMessage().contains("need 12 bytes, the file ends after 9"), e.getMessage());
        }
        Path empty = IdxFiles.write(dir.resolve("empty"), new byte[0], false);
        assertEquals("magic", assertThrows(IdxFormatException.class, () -> IdxReader.readImages(empty)).field());
    }

    @Test
    void rejectsTruncatedGzipStream() throws IOException {
        Path full = IdxFiles.write(dir.resolve("full.gz"), IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {3, 2, 2}, pixels), true);
        byte[] gz = Files.readAllBytes(full);
        Path cut = Files.write(dir.resolve("cut.gz"), Arrays.copyOf(gz, gz.length - 12));
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.readImages(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
    }

    @Test
    void rejectsTrailingBytesAndBadDimensions() throws IOException {
        byte[] longer = IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {2, 2, 2}, pixels);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.readImages(IdxFiles.write(dir.resolve("long"), longer, true)));
        assertEquals("data", e.field());
        assertTrue(e.getMessage().contains("4 unexpected bytes"), e.getMessage());
        byte[] negative = IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {-1, 2, 2}, pixels);
        assertEquals("dimension 0", assertThrows(IdxFormatException.class,
                () -> IdxReader.readImages(IdxFiles.write(dir.resolve("neg"), negative, false))).field());
    }

    @Test
    void rejectsLabelOutsideTheClassesNamingItsIndex() throws IOException {
        Path labels = IdxFiles.write(dir.resolve("labels"), IdxFiles.idx(IdxReader.LABELS_MAGIC, new int[] {4}, new byte[] {0, 9, 10, 3}), true);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.readLabels(labels, 10));
        assertEquals("label 2", e.field());
        assertArrayEquals(new byte[] {0, 9, 10, 3}, IdxReader.readLabels(labels, 11));
    }

    @Test
    void fashionMnistLayoutChecksSizeAndCountAgreement() throws IOException {
        IdxFiles.writeDataset(dir, "train", 20, 28, 10);
        IdxFiles.writeDataset(dir, "t10k", 5, 28, 10);
        assertTrue(FashionMnist.isPresent(dir));
        LabeledImages train = FashionMnist.load(dir, FashionMnist.Split.TRAIN);
        assertEquals(20, train.size());
        assertEquals(7, train.label(17));
        assertEquals((17 + 3 + 4) & 0xff, train.images().pixel(17, 3, 4));

        IdxFiles.writeDataset(dir, "t10k", 5, 27, 10);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST));
        assertEquals("dimension 1", e.field());

        IdxFiles.writeDataset(dir, "t10k", 5, 28, 10);
        IdxFiles.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxFiles.idx(IdxReader.LABELS_MAGIC, new int[] {4}, new byte[4]), true);
        e = assertThrows(IdxFormatException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST));
        assertEquals("dimension 0", e.field());
        assertTrue(e.getMessage().contains("4 labels but t10k-images-idx3-ubyte.gz holds 5 images"), e.getMessage());
    }
}
