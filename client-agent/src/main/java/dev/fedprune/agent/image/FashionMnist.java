package dev.fedprune.agent.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fashion-MNIST as Debian's {@code dataset-fashion-mnist} package installs it: four gzip IDX files
 * under {@code /usr/share/datasets/fashion-mnist/}, 60,000 training and 10,000 test images of 28x28
 * grey pixels with labels 0–9.
 */
public final class FashionMnist {
    public static final Path DEBIAN_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");
    public static final int CLASSES = 10;
    public static final int SIDE = 28;

    public enum Split {
        TRAIN("train"), TEST("t10k");

        private final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }

        public String imagesFile() {
            return prefix + "-images-idx3-ubyte.gz";
        }

        public String labelsFile() {
            return prefix + "-labels-idx1-ubyte.gz";
        }
    }

    private FashionMnist() {
    }

    /** Whether all four files are present in {@code directory}. */
    public static boolean isPresent(Path directory) {
        for (Split split : Split.values()) {
            if (!Files.isRegularFile(directory.resolve(split.imagesFile())) || !Files.isRegularFile(directory.resolve(split.labelsFile()))) {
                return false;
            }
        }
        return true;
    }

    /** Loads one split, checking the image size, the label range and that the two files agree in count. */
    public static LabeledImages load(Path directory, Split split) throws IOException {
        Path imagesFile = directory.resolve(split.imagesFile());
        Path labelsFile = directory.resolve(split.labelsFile());
        ImageSet images = IdxReader.readImages(imagesFile);
        if (images.rows() != SIDE || images.columns() != SIDE) {
            throw new IdxFormatException(imagesFile, "dimension " + (images.rows() != SIDE ? 1 : 2),
                    "images are " + images.rows() + "x" + images.columns() + ", Fashion-MNIST images are " + SIDE + "x" + SIDE);
        }
        byte[] labels = IdxReader.readLabels(labelsFile, CLASSES);
        if (labels.length != images.count()) {
            throw new IdxFormatException(labelsFile, "dimension 0", labels.length + " labels but " + imagesFile.getFileName() + " holds "
                    + images.count() + " images");
        }
        return new LabeledImages(images, labels, CLASSES);
    }
}
