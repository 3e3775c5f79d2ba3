package dev.fedprune.agent.bench;

import dev.fedprune.agent.llm.LlamaConfig;

import dev.fedprune.aggregation.format.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An independent, deliberately naive double-precision LLaMA forward pass (single file, no sharding) in plain Java (no DJL), written
 * from the Hugging Face modeling code: the oracle the DJL runtime is checked against.
 */
public final class PlainForward {
    private final LlamaConfig c;
    private final SafetensorsFile file;

    public PlainForward(Path dir) throws IOException {
        c = LlamaConfig.load(dir);
        file = SafetensorsFile.open(dir.resolve("model.safetensors"));
    }

    private double[] t(String name) throws IOException {
        float[] f = file.floats(name);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private double[] tOrNull(String name) throws IOException {
        return file.tensors().containsKey(name) ? t(name) : null;
    }

    /** Logits {@code [T][vocab]}. */
    public double[][] logits(int[] ids) throws IOException {
        int T = ids.length;
        int H = c.hiddenSize();
        double[] emb = t("model.embed_tokens.weight");
        double[][] h = new double[T][H];
        for (int i = 0; i < T; i++) {
            System.arraycopy(emb, ids[i] * H, h[i], 0, H);
        }
        int hd = c.headDim();
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            double[][] x = norm(h, t(p + "input_layernorm.weight"));
            double[][] q = lin(x, t(p + "self_attn.q_proj.weight"), tOrNull(p + "self_attn.q_proj.bias"), c.qDim(), H);
            double[][] k = lin(x, t(p + "self_attn.k_proj.weight"), tOrNull(p + "self_attn.k_proj.bias"), c.kvDim(), H);
            double[][] v = lin(x, t(p + "self_attn.v_proj.weight"), tOrNull(p + "self_attn.v_proj.bias"), c.kvDim(), H);
            rope(q, c.heads(), hd);
            rope(k, c.kvHeads(), hd);
            double[][] att = new double[T][c.qDim()];
            for (int head = 0; head < c.heads(); head++) {
                int kvHead = head / (c.heads() / c.kvHeads());
                for (int i = 0; i < T; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += q[i][head * hd + d] * k[j][kvHead * hd + d];
                        }
                        s[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        z += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int d = 0; d < hd; d++) {
                            att[i][head * hd + d] += s[j] / z * v[j][kvHead * hd + d];
                        }
                    }
                }
            }
            double[][] o = lin(att, t(p + "self_attn.o_proj.weight"), tOrNull(p + "self_attn.o_proj.bias"), H, c.qDim());
            add(h, o);
            double[][] x2 = norm(h, t(p + "post_attention_layernorm.weight"));
            int I = c.intermediateSize();
            double[][] g = lin(x2, t(p + "mlp.gate_proj.weight"), tOrNull(p + "mlp.gate_proj.bias"), I, H);
            double[][] u = lin(x2, t(p + "mlp.up_proj.weight"), tOrNull(p + "mlp.up_proj.bias"), I, H);
            for (int i = 0; i < T; i++) {
                for (int j = 0; j < I; j++) {
                    g[i][j] = g[i][j] / (1 + Math.exp(-g[i][j])) * u[i][j];
                }
            }
            add(h, lin(g, t(p + "mlp.down_proj.weight"), tOrNull(p + "mlp.down_proj.bias"), H, I));
        }
        double[][] x = norm(h, t("model.norm.weight"));
        double[] head = t(c.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
        return lin(x, head, null, c.vocabSize(), H);
    }

    private void rope(double[][] x, int heads, int hd) {
        for (int pos = 0; pos < x.length; pos++) {
            for (int head = 0; head < heads; head++) {
                double[] rotated = new double[hd];
                for (int d = 0; d < hd / 2; d++) {
                    double freq = 1.0 / Math.pow(c.ropeTheta(), 2.0 * d / hd);
                    double a = pos * freq;
                    double x1 = x[pos][head * hd + d];
                    double x2 = x[pos][head * hd + d + hd / 2];
                    rotated[d] = x1 * Math.cos(a) - x2 * Math.sin(a);
                    rotated[d + hd / 2] = x2 * Math.cos(a) + x1 * Math.sin(a);
                }
                System.arraycopy(rotated, 0, x[pos], head * hd, hd);
            }
        }
    }

    private double[][] norm(double[][] h, double[] w) {
        double[][] out = new double[h.length][];
        for (int i = 0; i < h.length; i++) {
            double ms = 0;
            for (double v : h[i]) {
                ms += v * v;
            }
            ms /= h[i].length;
            double r = 1 / Math.sqrt(ms + c.rmsNormEps());
            out[i] = new double[h[i].length];
            for (int j = 0; j < h[i].length; j++) {
                out[i][j] = h[i][j] * r * w[j];
            }
        }
        return out;
    }

    private static double[][] lin(double[][] x, double[] w, double[] b, int out, int in) {
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) {
                    s += w[o * in + i] * x[t][i];
                }
                y[t][o] = s;
            }
        }
        return y;
    }

    private static void add(double[][] a, double[][] b) {
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                a[i][j] += b[i][j];
            }
        }
    }
}
