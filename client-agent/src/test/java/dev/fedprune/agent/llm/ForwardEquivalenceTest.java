package dev.fedprune.agent.llm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The DJL layer-streaming forward pass equals an independent double-precision forward within 1e-4. */
class ForwardEquivalenceTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"synthetic", "llamaGqa", "qwenBiasUntiedBf16", "llamaAllBiasesF16"})
    void djlLogitsMatchPlainJavaDoubleForward(String variant) throws Exception {
        switch (variant) {
            case "synthetic" -> SyntheticLlama.write(dir, SyntheticLlama.Shape.tiny(), 42);
            case "llamaGqa" -> TinyModels.write(dir, TinyModels.llamaGqa(), 1);
            case "qwenBiasUntiedBf16" -> TinyModels.write(dir, TinyModels.qwenBiasUntiedBf16(), 2);
            default -> TinyModels.write(dir, TinyModels.llamaAllBiasesF16(), 3);
        }
        try (LlamaModel model = LlamaModel.open(dir)) {
            LlamaConfig c = model.config();
            Random random = new Random(5);
            int[] ids = new int[Math.min(c.maxPositions(), 19)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(c.vocabSize());
            }
            double[][] expected = new dev.fedprune.agent.bench.PlainForward(dir).logits(ids);
            float[] actual;
            try (DecoderRuntime runtime = new DecoderRuntime(c, ids.length, Device.cpu());
                 HiddenStates states = HiddenStates.embed(runtime, model, List.of(ids))) {
                for (int l = 0; l < c.layers(); l++) {
                    try (DeviceLayer layer = runtime.upload(model.loadLayer(l))) {
                        states.forward(layer, ActivationObserver.NONE, "t", (s, d, t) -> { });
                    }
                }
                NDArray norm = runtime.manager().create(model.checkpoint().readFloats(LlamaModel.FINAL_NORM));
                NDArray head = runtime.manager().create(model.checkpoint().readFloats(model.lmHeadName()),
                        new Shape(c.vocabSize(), c.hiddenSize()));
                actual = runtime.logits(states.get(0), norm, head).toFloatArray();
            }
            double maxDiff = 0;
            double maxAbs = 0;
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < c.vocabSize(); v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(actual[t * c.vocabSize() + v] - expected[t][v]));
                    maxAbs = Math.max(maxAbs, Math.abs(expected[t][v]));
                }
            }
            double relative = maxDiff / maxAbs;
            System.out.printf("%s: max |logit diff| %.3g, max |logit| %.3g, relative %.3g%n", variant, maxDiff, maxAbs, relative);
            assertTrue(relative < 1e-4, variant + ": relative error " + relative);
        }
    }
}
