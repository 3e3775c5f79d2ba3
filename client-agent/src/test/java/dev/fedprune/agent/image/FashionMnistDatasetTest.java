package dev.fedprune.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Reads the real Fashion-MNIST from Debian's package when it is installed; skipped, with a message, otherwise. */
class FashionMnistDatasetTest {

    @Test
    void readsTheDebianPackageWithBalancedClasses() throws IOException {
        boolean present = FashionMnist.isPresent(FashionMnist.DEBIAN_DIRECTORY);
        if (!present) {
            System.err.println("SKIPPED FashionMnistDatasetTest: Fashion-MNIST is not installed under " + FashionMnist.DEBIAN_DIRECTORY
                    + " (apt-get install dataset-fashion-mnist)");
        }
        Assumptions.assumeTrue(present, () -> "Fashion-MNIST is not installed under " + FashionMnist.DEBIAN_DIRECTORY
                + "; install the Debian package dataset-fashion-mnist to run this test");
        for (FashionMnist.Split split : FashionMnist.Split.values()) {
            LabeledImages data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY, split);
            int expected = split == FashionMnist.Split.TRAIN ? 60_000 : 10_000;
            assertEquals(expected, data.size());
            assertEquals(28, data.images().rows());
            int[] perClass = new int[FashionMnist.CLASSES];
            for (int label : data.labelArray()) {
                perClass[label]++;
            }
            for (int count : perClass) {
                assertEquals(expected / 10, count);
            }
        }
    }
}
