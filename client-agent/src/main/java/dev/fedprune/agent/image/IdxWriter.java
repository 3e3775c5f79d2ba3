package dev.fedprune.agent.image;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/**
 * Writes gzip IDX files that {@link IdxReader} reads back: a subset of labelled images, so that a
 * simulation or a test can give every agent a directory with its own partition in the Fashion-MNIST
 * file layout ({@link FashionMnist.Split}).
 */
public final class IdxWriter {

    private IdxWriter() {
    }

    /** Writes the samples {@code indices} of {@code data} as {@code split}'s image and label files in {@code directory}. */
    public static void write(Path directory, FashionMnist.Split split, LabeledImages data, int[] indices) throws IOException {
        ImageSet images = data.images();
        int per = images.pixelsPerImage();
        byte[] pixels = new byte[indices.length * per];
        byte[] labels = new byte[indices.length];
        for (int i = 0; i < indices.length; i++) {
            int index = indices[i];
            if (index < 0 || index >= data.size()) {
                throw new IllegalArgumentException("indices[" + i + "] = " + index + " is not a sample in [0, " + data.size() + ")");
            }
            System.arraycopy(images.pixels(), index * per, pixels, i * per, per);
            labels[i] = data.labels()[index];
        }
        Files.createDirectories(directory);
        try (DataOutputStream out = open(directory.resolve(split.imagesFile()))) {
            out.writeInt(IdxReader.IMAGES_MAGIC);
            out.writeInt(indices.length);
            out.writeInt(images.rows());
            out.writeInt(images.columns());
            out.write(pixels);
        }
        try (DataOutputStream out = open(directory.resolve(split.labelsFile()))) {
            out.writeInt(IdxReader.LABELS_MAGIC);
            out.writeInt(indices.length);
            out.write(labels);
        }
    }

    /** Every sample of {@code data}. */
    public static void write(Path directory, FashionMnist.Split split, LabeledImages data) throws IOException {
        int[] all = new int[data.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        write(directory, split, data, all);
    }

    private static DataOutputStream open(Path file) throws IOException {
        OutputStream raw = Files.newOutputStream(file);
        return new DataOutputStream(new java.io.BufferedOutputStream(new GZIPOutputStream(raw, 1 << 16), 1 << 16));
    }
}
