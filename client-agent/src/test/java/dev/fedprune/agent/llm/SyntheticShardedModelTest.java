package dev.fedprune.agent.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sharded checkpoints the scale benchmarks generate are read by the agent as the single file of the same seed. */
class SyntheticShardedModelTest {
    @TempDir
    Path dir;

    @Test
    void agentReadsGeneratedShardsAsTheSingleFile() throws Exception {
        SyntheticLlama.Shape shape = new SyntheticLlama.Shape(3, 64, 160, 4, 2, 300, 64, false, DType.BF16);
        Path single = dir.resolve("single");
        Path sharded = dir.resolve("sharded");
        SyntheticLlama.writeSharded(single, shape, 11, 1, SyntheticLlama.Progress.NONE);
        SyntheticLlama.writeSharded(sharded, shape, 11, 3, SyntheticLlama.Progress.NONE);
        try (LlamaModel a = LlamaModel.open(single); LlamaModel b = LlamaModel.open(sharded)) {
            assertEquals(a.config(), b.config());
            assertEquals(3, b.config().layers());
            for (int l = 0; l < shape.layers(); l++) {
                for (Projection p : Projection.values()) {
                    assertArrayEquals(a.loadWeight(l, p), b.loadWeight(l, p), "layer " + l + " " + p);
                }
            }
            int[] ids = {0, 7, 299};
            assertArrayEquals(a.embed(ids), b.embed(ids));
            assertEquals("lm_head.weight", b.lmHeadName());
            assertArrayEquals(a.checkpoint().readFloats(b.lmHeadName()), b.checkpoint().readFloats(b.lmHeadName()));
        }
    }
}
