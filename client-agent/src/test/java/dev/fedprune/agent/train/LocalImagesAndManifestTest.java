package dev.fedprune.agent.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.SmallVggCnn;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxFormatException;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.ImageSet;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.proto.v1.ModelManifest;
import dev.fedprune.proto.v1.TensorEntry;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An agent's image directory and its check of the job's model against the CNN it builds. */
class LocalImagesAndManifestTest {
    @TempDir
    Path dir;

    static LabeledImages images(int count, int side, int classes) {
        byte[] pixels = new byte[count * side * side];
        byte[] labels = new byte[count];
        for (int i = 0; i < count; i++) {
            labels[i] = (byte) (i % classes);
            pixels[i * side * side] = (byte) i;
        }
        return new LabeledImages(new ImageSet(count, side, side, pixels), labels, classes);
    }

    @Test
    void writtenPartitionReadsBackAndWrongSizesOrLabelsAreRefusedNamingTheFile() throws Exception {
        LabeledImages all = images(20, 8, 4);
        IdxWriter.write(dir, FashionMnist.Split.TRAIN, all, new int[] {1, 5, 6});
        IdxWriter.write(dir, FashionMnist.Split.TEST, all, new int[] {2, 3});
        LocalImages local = LocalImages.load(dir, 8, 4);
        assertEquals(3, local.train().size());
        assertEquals(2, local.heldOut().size());
        assertEquals(1, local.train().label(1));
        assertEquals(5, local.train().images().pixel(1, 0, 0));

        IdxFormatException side = assertThrows(IdxFormatException.class, () -> LocalImages.load(dir, 28, 4));
        assertTrue(side.getMessage().contains("train-images-idx3-ubyte.gz") && side.getMessage().contains("28x28"), side.getMessage());
        IdxFormatException label = assertThrows(IdxFormatException.class, () -> LocalImages.load(dir, 8, 2));
        assertTrue(label.getMessage().contains("train-labels-idx1-ubyte.gz") && label.getMessage().contains("not a class"), label.getMessage());
        Files.write(dir.resolve(FashionMnist.Split.TEST.imagesFile()), new byte[] {0x1f, (byte) 0x8b, 8, 0});
        IdxFormatException truncated = assertThrows(IdxFormatException.class, () -> LocalImages.load(dir, 8, 4));
        assertTrue(truncated.getMessage().contains("t10k-images-idx3-ubyte.gz"), truncated.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LocalImages.load(dir.resolve("missing"), 8, 4));
    }

    @Test
    void modelWhoseTensorsDisagreeWithTheAgentsCnnIsRefusedNamingTheTensor() {
        CnnLayout layout = CnnLayout.smallVgg(1, 8, new int[] {2, 4}, 10);
        ModelManifest.Builder manifest = ModelManifest.newBuilder();
        for (LayerShape l : layout.sparseLayers()) {
            TensorEntry.Builder e = TensorEntry.newBuilder().setName(l.name()).setPrunable(true);
            for (long d : l.shape()) {
                e.addShape(d);
            }
            manifest.addTensors(e);
        }
        for (CnnLayout.DenseTensor t : layout.denseTensors()) {
            manifest.addTensors(TensorEntry.newBuilder().setName(t.name()).addShape(t.size()));
        }
        try (SmallVggCnn cnn = new SmallVggCnn(new CnnConfig(1, 8, new int[] {2, 4}, 10), 1, Device.cpu())) {
            HeldCnn.checkManifest(cnn, manifest.build());
            ModelManifest.Builder wrong = manifest.clone();
            wrong.setTensors(1, wrong.getTensors(1).toBuilder().setShape(0, 5));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HeldCnn.checkManifest(cnn, wrong.build()));
            assertTrue(e.getMessage().startsWith("model.tensors[conv1.weight]"), e.getMessage());
            ModelManifest.Builder extra = manifest.clone().addTensors(TensorEntry.newBuilder().setName("bn9.gamma").addShape(3));
            e = assertThrows(IllegalArgumentException.class, () -> HeldCnn.checkManifest(cnn, extra.build()));
            assertTrue(e.getMessage().startsWith("model.tensors[bn9.gamma]"), e.getMessage());
        }
    }
}
