package dev.fedprune.agent.cnn;

/**
 * 2x2 max-pool followed by ReLU on the heap, with the routing the backward pass needs packed as one 4-bit
 * code per pooled output (two per byte), for {@link NsConvCnn}'s layer-wise trainer.
 */
final class MaxPoolRoutes {
    private MaxPoolRoutes() {
    }

    /** {@code ReLU(maxpool(z))} and the packed route codes of a block. */
    record Pooled(float[] values, byte[] routes) {
    }

    /**
     * 2x2 max-pool (floor mode) and ReLU of {@code z} ({@code [n, c, h, w]}, row-major) on the heap. The
     * code of a pooled output is 0 when its maximum is not positive (ReLU passes no gradient) and
     * otherwise 1 + the row-major index in its window of the first maximal entry, where PyTorch's
     * max-pool routes the gradient (a NaN counts as maximal, as there).
     */
    static Pooled poolAndRoute(float[] z, long[] dims) {
        int n = (int) dims[0];
        int c = (int) dims[1];
        int h = (int) dims[2];
        int w = (int) dims[3];
        int hp = h / 2;
        int wp = w / 2;
        float[] values = new float[n * c * hp * wp];
        byte[] routes = new byte[(values.length + 1) / 2];
        int o = 0;
        for (int plane = 0; plane < n * c; plane++) {
            int base = plane * h * w;
            for (int i = 0; i < hp; i++) {
                for (int j = 0; j < wp; j++, o++) {
                    int top = base + 2 * i * w + 2 * j;
                    float max = z[top];
                    int arg = 0;
                    for (int k = 1; k < 4; k++) {
                        float v = z[top + (k >> 1) * w + (k & 1)];
                        if (v > max || Float.isNaN(v)) {
                            max = v;
                            arg = k;
                        }
                    }
                    int code = max > 0 ? arg + 1 : 0;
                    values[o] = max > 0 ? max : 0f;
                    setRoute(routes, o, code);
                }
            }
        }
        return new Pooled(values, routes);
    }

    /**
     * The gradient of {@code z} for samples {@code [from, from + rows)} from that of {@code ReLU(maxpool(z))}
     * ({@code [n, c, h/2, w/2]}), routed by the codes; {@code 0 + g} where routed, as PyTorch accumulates
     * into zeros (so a {@code −0} gradient arrives as {@code +0}), and {@code +0} elsewhere.
     */
    static float[] unpool(float[] pooledGradient, byte[] routes, long[] convDims, int from, int rows) {
        int c = (int) convDims[1];
        int h = (int) convDims[2];
        int w = (int) convDims[3];
        int hp = h / 2;
        int wp = w / 2;
        float[] dz = new float[rows * c * h * w];
        int o = from * c * hp * wp;
        for (int plane = 0; plane < rows * c; plane++) {
            int base = plane * h * w;
            for (int i = 0; i < hp; i++) {
                for (int j = 0; j < wp; j++, o++) {
                    int code = route(routes, o);
                    if (code != 0) {
                        int k = code - 1;
                        dz[base + (2 * i + (k >> 1)) * w + 2 * j + (k & 1)] = 0f + pooledGradient[o];
                    }
                }
            }
        }
        return dz;
    }

    /** Sets the 4-bit code of pooled output {@code o}: two per byte, the even one in the low nibble. */
    static void setRoute(byte[] routes, int o, int code) {
        routes[o >>> 1] |= (byte) ((code & 0xf) << ((o & 1) * 4));
    }

    /** The 4-bit code of pooled output {@code o}. */
    static int route(byte[] routes, int o) {
        return (routes[o >>> 1] >>> ((o & 1) * 4)) & 0xf;
    }
}
