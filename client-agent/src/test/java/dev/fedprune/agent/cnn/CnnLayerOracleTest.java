package dev.fedprune.agent.cnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.engine.EngineSelfCheck;
import dev.fedprune.agent.engine.EngineSelfCheck.BatchNorm2d;
import dev.fedprune.agent.engine.EngineSelfCheck.Case;
import dev.fedprune.agent.engine.EngineSelfCheck.Conv;
import dev.fedprune.agent.engine.EngineSelfCheck.Dense;
import dev.fedprune.agent.engine.ReferenceOps.ConvShape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every layer of the CNNs agents train, at the shapes the tests and the default jobs use, forward and
 * backward on the engine as agents configure it, against the plain-Java oracle. Channel counts such as 4,
 * 6, 8 and 12 are the ones whose input gradients libtorch's oneDNN got wrong (not a multiple of 16 on
 * AVX-512, of 8 on AVX2): with oneDNN back on, this test fails on such processors.
 */
class CnnLayerOracleTest {
    private static final int BATCH = 16;

    /** The small VGG and NSConv VGG: per block a 3x3 convolution at the block's side, then the classifier. */
    static List<Case> vgg(CnnConfig config) {
        List<Case> cases = new ArrayList<>();
        int in = config.inputChannels();
        int side = config.side();
        for (int c : config.channels()) {
            cases.add(new Conv(new ConvShape(BATCH, in, side, side, c, 3, 1, 1)));
            cases.add(new BatchNorm2d(BATCH, c, side));
            in = c;
            side /= 2;
        }
        cases.add(new Dense(BATCH, config.classifierInputs(), config.classes()));
        return cases;
    }

    /** ResNet-18 of base width {@code w}: stem, per stage the strided 3x3 and 1x1 shortcut, the 3x3 convolutions, the classifier. */
    static List<Case> resnet18(int inputChannels, int side, int classes, int w) {
        List<Case> cases = new ArrayList<>();
        cases.add(new Conv(new ConvShape(BATCH, inputChannels, side, side, w, 3, 1, 1)));
        int in = w;
        int s = side;
        for (int stage = 0; stage < 4; stage++) {
            int out = w << stage;
            if (stage > 0) {
                cases.add(new Conv(new ConvShape(BATCH, in, s, s, out, 3, 2, 1)));
                cases.add(new Conv(new ConvShape(BATCH, in, s, s, out, 1, 2, 0)));
                s = (s + 2 - 3) / 2 + 1;
            }
            cases.add(new Conv(new ConvShape(BATCH, out, s, s, out, 3, 1, 1)));
            cases.add(new BatchNorm2d(BATCH, out, s));
            in = out;
        }
        cases.add(new Dense(BATCH, 8 * w, classes));
        return cases;
    }

    private static void assertEngineMatchesTheOracle(List<Case> cases) {
        EngineSelfCheck.Report report = new EngineSelfCheck(cases, 41).run();
        assertEquals(List.of(), report.findings(), report.summary());
        assertTrue(report.passed());
    }

    @Test
    void smallVggLayersOfTheTestsAndOfTheDefaultJob() {
        assertEngineMatchesTheOracle(vgg(new CnnConfig(1, 28, new int[] {4, 8}, 10)));
        assertEngineMatchesTheOracle(vgg(CnnConfig.smallVgg()));
    }

    @Test
    void nsConvVggLayers() {
        assertEngineMatchesTheOracle(vgg(new CnnConfig(1, 13, new int[] {4, 6}, 5)));
        assertEngineMatchesTheOracle(vgg(new CnnConfig(1, 28, new int[] {8, 12}, 10)));
    }

    @Test
    void narrowResNet18Layers() {
        assertEngineMatchesTheOracle(resnet18(1, 28, 10, 4));
        assertEngineMatchesTheOracle(resnet18(3, 16, 10, 6));
    }
}
