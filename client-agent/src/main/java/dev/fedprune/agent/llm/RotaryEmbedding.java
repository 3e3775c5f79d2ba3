package dev.fedprune.agent.llm;

/**
 * RoPE tables in the Hugging Face "rotate half" layout: {@code cos} and {@code sin} of shape
 * {@code [positions, head_dim]}, the frequencies repeated for both halves. Frequencies are computed in
 * float32 like the reference implementation, including linear and Llama 3 scaling.
 */
public final class RotaryEmbedding {
    private RotaryEmbedding() {
    }

    public static float[] inverseFrequencies(LlamaConfig c) {
        int half = c.headDim() / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / c.headDim();
            inv[i] = (float) (1.0 / Math.pow(c.ropeTheta(), exponent));
        }
        LlamaConfig.RopeScaling s = c.ropeScaling();
        switch (s.type()) {
            case "linear" -> {
                for (int i = 0; i < half; i++) {
                    inv[i] = (float) (inv[i] / s.factor());
                }
            }
            case "llama3" -> {
                double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
                double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double scaled = wavelen > lowWavelen ? inv[i] / s.factor() : inv[i];
                    if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                        double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                        scaled = (1 - smooth) * scaled / s.factor() + smooth * scaled;
                    }
                    inv[i] = (float) scaled;
                }
            }
            default -> { }
        }
        return inv;
    }

    /** {cos, sin}, each {@code [positions * head_dim]} row-major. */
    public static float[][] tables(LlamaConfig c, int positions) {
        int d = c.headDim();
        int half = d / 2;
        float[] inv = inverseFrequencies(c);
        float[] cos = new float[positions * d];
        float[] sin = new float[positions * d];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * inv[i];
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                cos[p * d + i] = cv;
                cos[p * d + half + i] = cv;
                sin[p * d + i] = sv;
                sin[p * d + half + i] = sv;
            }
        }
        return new float[][] {cos, sin};
    }
}
