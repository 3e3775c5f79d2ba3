package dev.fedprune.agent.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.fedprune.agent.engine.ReferenceOps.ConvShape;
import dev.fedprune.agent.engine.ReferenceOps.Result;
import org.junit.jupiter.api.Test;

/** The oracle of the engine self-check, on examples small enough to work out by hand; every number is exact in binary. */
class ReferenceOpsTest {
    // x = [[1 2 3] [4 5 6] [7 8 9]], w = [[1 2] [-1 0.5]], g (the output gradient) = [[1 -1] [2 0.5]]
    private static final float[] X = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    private static final float[] W = {1, 2, -1, 0.5f};
    private static final float[] G = {1, -1, 2, 0.5f};
    private static final ConvShape TWO_BY_TWO = new ConvShape(1, 1, 3, 3, 1, 2, 1, 0);

    @Test
    void convForwardCorrelatesTheKernelOverTheInput() {
        Result y = ReferenceOps.convForward(TWO_BY_TWO, X, W);
        // y[0][0] = 1*1 + 2*2 + 4*(-1) + 5*0.5, and so on.
        assertArrayEquals(new double[] {3.5, 6, 11, 13.5}, y.values());
        assertArrayEquals(new double[] {11.5, 16, 25, 29.5}, y.absoluteTerms());
    }

    @Test
    void convBackwardGivesInputAndWeightGradients() {
        Result[] grads = ReferenceOps.convBackward(TWO_BY_TWO, X, W, G);
        // dx[r][c] = sum over the outputs (i, j) the input pixel fed of g[i][j] * w[r-i][c-j]; dx[1][1] = 0.5*1 + 2*2 + (-1)(-1) + 1*0.5.
        assertArrayEquals(new double[] {1, 1, -2, 1, 6, 0.5, -2, 0.5, 0.25}, grads[0].values());
        assertArrayEquals(new double[] {1, 3, 2, 3, 6, 1.5, 2, 1.5, 0.25}, grads[0].absoluteTerms());
        // dw[kh][kw] = sum over (i, j) of g[i][j] * x[i+kh][j+kw]; dw[0][0] = 1*1 - 1*2 + 2*4 + 0.5*5.
        assertArrayEquals(new double[] {9.5, 12, 17, 19.5}, grads[1].values());
        assertArrayEquals(new double[] {13.5, 18, 27, 31.5}, grads[1].absoluteTerms());
    }

    @Test
    void strideAndPaddingPickTheRightPixels() {
        // The same 2x2 kernel at stride 2 with padding 1: four windows that do not overlap, each reading the padding
        // where it sticks out; window (1, 0) covers x[1][0] and x[2][0] under w[0][1] and w[1][1]: 4*2 + 7*0.5.
        ConvShape s = new ConvShape(1, 1, 3, 3, 1, 2, 2, 1);
        assertArrayEquals(new double[] {0.5, -0.5, 11.5, 13.5}, ReferenceOps.convForward(s, X, W).values());
        Result[] grads = ReferenceOps.convBackward(s, X, W, G);
        // Each input pixel feeds exactly one output: dx = g of that window times the kernel entry it met.
        assertArrayEquals(new double[] {0.5, 1, -0.5, 4, 0.5, 1, 1, -0.5, 0.25}, grads[0].values());
        // dw[1][1] = 1*x[0][0] - 1*x[0][2] + 2*x[2][0] + 0.5*x[2][2]; dw[0][0] only meets x[1][1], in window (1, 1).
        assertArrayEquals(new double[] {2.5, 11, 2, 16.5}, grads[1].values());
    }
}
