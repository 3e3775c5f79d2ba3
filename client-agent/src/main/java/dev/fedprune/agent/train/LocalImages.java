package dev.fedprune.agent.train;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxFormatException;
import dev.fedprune.agent.image.IdxReader;
import dev.fedprune.agent.image.ImageSet;
import dev.fedprune.agent.image.LabeledImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An agent's own images for sparse training: a directory in the Fashion-MNIST layout holding its
 * training split ({@code train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}) and a
 * held-out split ({@code t10k-…}) on which it measures the accuracy it reports. Files may be gzip or
 * plain IDX.
 */
public record LocalImages(LabeledImages train, LabeledImages heldOut) {

    /** Loads both splits, checking image size and label range against the job's CNN. */
    public static LocalImages load(Path directory, int side, int classes) throws IOException {
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("data: '" + directory + "' is not a directory of IDX files (train-images-idx3-ubyte.gz, "
                    + "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)");
        }
        return new LocalImages(split(directory, FashionMnist.Split.TRAIN, side, classes), split(directory, FashionMnist.Split.TEST, side, classes));
    }

    private static LabeledImages split(Path directory, FashionMnist.Split split, int side, int classes) throws IOException {
        Path imagesFile = file(directory, split.imagesFile());
        Path labelsFile = file(directory, split.labelsFile());
        ImageSet images = IdxReader.readImages(imagesFile);
        if (images.rows() != side || images.columns() != side) {
            throw new IdxFormatException(imagesFile, "dimension " + (images.rows() != side ? 1 : 2),
                    "images are " + images.rows() + "x" + images.columns() + ", the job's CNN takes " + side + "x" + side);
        }
        if (images.count() == 0) {
            throw new IdxFormatException(imagesFile, "dimension 0", "no images");
        }
        byte[] labels = IdxReader.readLabels(labelsFile, classes);
        if (labels.length != images.count()) {
            throw new IdxFormatException(labelsFile, "dimension 0", labels.length + " labels but " + imagesFile.getFileName() + " holds "
                    + images.count() + " images");
        }
        return new LabeledImages(images, labels, classes);
    }

    /** {@code name} (gzip), or the same name without {@code .gz}. */
    private static Path file(Path directory, String name) {
        Path gz = directory.resolve(name);
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        Path plain = directory.resolve(name.substring(0, name.length() - 3));
        return Files.isRegularFile(plain) ? plain : gz;
    }
}
