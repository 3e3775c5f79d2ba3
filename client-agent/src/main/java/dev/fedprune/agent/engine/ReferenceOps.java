package dev.fedprune.agent.engine;

/**
 * Plain-Java reference math for the layers agents train (NCHW convolution, training-mode BatchNorm,
 * linear), forward and backward, accumulated in double. Each result carries, per entry, the sum of the
 * absolute values of the terms that went into it: the scale against which a float32 engine's rounding
 * error is judged. Slow and obvious on purpose: it is the oracle of {@link EngineSelfCheck}.
 */
public final class ReferenceOps {
    private ReferenceOps() {
    }

    /** A reference result: the values and, per value, the sum of |terms| it was accumulated from. */
    public record Result(double[] values, double[] absoluteTerms) {
    }

    /** The shape of a bias-free 2-D convolution on an {@code n × c × h × w} input. */
    public record ConvShape(int n, int c, int h, int w, int outChannels, int kernel, int stride, int padding) {
        public ConvShape {
            if (n < 1 || c < 1 || h < 1 || w < 1 || outChannels < 1 || kernel < 1 || stride < 1 || padding < 0) {
                throw new IllegalArgumentException("bad convolution shape " + this);
            }
        }

        public int outH() {
            return (h + 2 * padding - kernel) / stride + 1;
        }

        public int outW() {
            return (w + 2 * padding - kernel) / stride + 1;
        }

        public int inputSize() {
            return n * c * h * w;
        }

        public int weightSize() {
            return outChannels * c * kernel * kernel;
        }

        public int outputSize() {
            return n * outChannels * outH() * outW();
        }

        @Override
        public String toString() {
            return "N" + n + " C" + c + " " + h + "x" + w + " -> O" + outChannels + " k" + kernel + " s" + stride + " p" + padding;
        }
    }

    /** One term of a convolution: output entry {@code yAt} takes input entry {@code xAt} times weight {@code wAt}. */
    private interface Tap {
        void at(int yAt, int xAt, int wAt);
    }

    /**
     * Every term of a convolution, output by output (batch, output channel, row, column) and within an
     * output by input channel and kernel position, skipping the padding: the one index arithmetic of the
     * forward and both backward passes.
     */
    private static void forEachTap(ConvShape s, Tap tap) {
        int oh = s.outH();
        int ow = s.outW();
        for (int n = 0; n < s.n; n++) {
            for (int o = 0; o < s.outChannels; o++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        int yAt = ((n * s.outChannels + o) * oh + i) * ow + j;
                        for (int c = 0; c < s.c; c++) {
                            for (int kh = 0; kh < s.kernel; kh++) {
                                int hi = i * s.stride - s.padding + kh;
                                if (hi < 0 || hi >= s.h) {
                                    continue;
                                }
                                for (int kw = 0; kw < s.kernel; kw++) {
                                    int wi = j * s.stride - s.padding + kw;
                                    if (wi >= 0 && wi < s.w) {
                                        tap.at(yAt, ((n * s.c + c) * s.h + hi) * s.w + wi, ((o * s.c + c) * s.kernel + kh) * s.kernel + kw);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** {@code y = conv(x, w)}. */
    public static Result convForward(ConvShape s, float[] x, float[] w) {
        double[] y = new double[s.outputSize()];
        double[] abs = new double[y.length];
        forEachTap(s, (yAt, xAt, wAt) -> {
            double t = (double) x[xAt] * w[wAt];
            y[yAt] += t;
            abs[yAt] += Math.abs(t);
        });
        return new Result(y, abs);
    }

    /** The gradients of a convolution for the output gradient {@code g}: {@code {dL/dx, dL/dw}}. */
    public static Result[] convBackward(ConvShape s, float[] x, float[] w, float[] g) {
        double[] dx = new double[s.inputSize()];
        double[] dxAbs = new double[dx.length];
        double[] dw = new double[s.weightSize()];
        double[] dwAbs = new double[dw.length];
        forEachTap(s, (yAt, xAt, wAt) -> {
            double tx = (double) g[yAt] * w[wAt];
            double tw = (double) g[yAt] * x[xAt];
            dx[xAt] += tx;
            dxAbs[xAt] += Math.abs(tx);
            dw[wAt] += tw;
            dwAbs[wAt] += Math.abs(tw);
        });
        return new Result[] {new Result(dx, dxAbs), new Result(dw, dwAbs)};
    }

    /**
     * Training-mode BatchNorm over an {@code n × c × hw} input (batch statistics, biased variance):
     * {@code y = gamma (x - mean) / sqrt(var + eps) + beta}.
     */
    public static Result batchNormForward(int n, int c, int hw, float[] x, float[] gamma, float[] beta, double eps) {
        double[] y = new double[x.length];
        double[] abs = new double[x.length];
        for (int ch = 0; ch < c; ch++) {
            double[] stats = channelStatistics(n, c, hw, x, ch);
            double inv = 1 / Math.sqrt(stats[1] + eps);
            for (int b = 0; b < n; b++) {
                for (int p = 0; p < hw; p++) {
                    int at = (b * c + ch) * hw + p;
                    double xhat = (x[at] - stats[0]) * inv;
                    y[at] = gamma[ch] * xhat + beta[ch];
                    abs[at] = Math.abs(gamma[ch] * xhat) + Math.abs(beta[ch]);
                }
            }
        }
        return new Result(y, abs);
    }

    /** The gradients of training-mode BatchNorm for the output gradient {@code g}: {@code {dx, dgamma, dbeta}}. */
    public static Result[] batchNormBackward(int n, int c, int hw, float[] x, float[] gamma, float[] g, double eps) {
        double[] dx = new double[x.length];
        double[] dxAbs = new double[x.length];
        double[] dgamma = new double[c];
        double[] dgammaAbs = new double[c];
        double[] dbeta = new double[c];
        double[] dbetaAbs = new double[c];
        int m = n * hw;
        for (int ch = 0; ch < c; ch++) {
            double[] stats = channelStatistics(n, c, hw, x, ch);
            double inv = 1 / Math.sqrt(stats[1] + eps);
            double sumG = 0;
            double sumGXhat = 0;
            for (int b = 0; b < n; b++) {
                for (int p = 0; p < hw; p++) {
                    int at = (b * c + ch) * hw + p;
                    double xhat = (x[at] - stats[0]) * inv;
                    sumG += g[at];
                    sumGXhat += g[at] * xhat;
                    dbetaAbs[ch] += Math.abs(g[at]);
                    dgammaAbs[ch] += Math.abs(g[at] * xhat);
                }
            }
            dbeta[ch] = sumG;
            dgamma[ch] = sumGXhat;
            for (int b = 0; b < n; b++) {
                for (int p = 0; p < hw; p++) {
                    int at = (b * c + ch) * hw + p;
                    double xhat = (x[at] - stats[0]) * inv;
                    double scale = gamma[ch] * inv;
                    dx[at] = scale * (g[at] - sumG / m - xhat * sumGXhat / m);
                    dxAbs[at] = Math.abs(scale) * (Math.abs(g[at]) + (dbetaAbs[ch] + Math.abs(xhat) * dgammaAbs[ch]) / m);
                }
            }
        }
        return new Result[] {new Result(dx, dxAbs), new Result(dgamma, dgammaAbs), new Result(dbeta, dbetaAbs)};
    }

    private static double[] channelStatistics(int n, int c, int hw, float[] x, int ch) {
        double sum = 0;
        for (int b = 0; b < n; b++) {
            for (int p = 0; p < hw; p++) {
                sum += x[(b * c + ch) * hw + p];
            }
        }
        double mean = sum / (n * hw);
        double squares = 0;
        for (int b = 0; b < n; b++) {
            for (int p = 0; p < hw; p++) {
                double d = x[(b * c + ch) * hw + p] - mean;
                squares += d * d;
            }
        }
        return new double[] {mean, squares / (n * hw)};
    }

    /** {@code y = x Wᵀ + b} for {@code x} of {@code n × in} and {@code W} of {@code out × in}. */
    public static Result linearForward(int n, int in, int out, float[] x, float[] weight, float[] bias) {
        double[] y = new double[n * out];
        double[] abs = new double[y.length];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < out; o++) {
                double sum = bias[o];
                double sumAbs = Math.abs(bias[o]);
                for (int i = 0; i < in; i++) {
                    double t = (double) x[b * in + i] * weight[o * in + i];
                    sum += t;
                    sumAbs += Math.abs(t);
                }
                y[b * out + o] = sum;
                abs[b * out + o] = sumAbs;
            }
        }
        return new Result(y, abs);
    }

    /** The gradients of a linear layer for the output gradient {@code g}: {@code {dx, dW, db}}. */
    public static Result[] linearBackward(int n, int in, int out, float[] x, float[] weight, float[] g) {
        double[] dx = new double[n * in];
        double[] dxAbs = new double[dx.length];
        double[] dw = new double[out * in];
        double[] dwAbs = new double[dw.length];
        double[] db = new double[out];
        double[] dbAbs = new double[out];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < out; o++) {
                double go = g[b * out + o];
                db[o] += go;
                dbAbs[o] += Math.abs(go);
                for (int i = 0; i < in; i++) {
                    double tx = go * weight[o * in + i];
                    double tw = go * x[b * in + i];
                    dx[b * in + i] += tx;
                    dxAbs[b * in + i] += Math.abs(tx);
                    dw[o * in + i] += tw;
                    dwAbs[o * in + i] += Math.abs(tw);
                }
            }
        }
        return new Result[] {new Result(dx, dxAbs), new Result(dw, dwAbs), new Result(db, dbAbs)};
    }
}
