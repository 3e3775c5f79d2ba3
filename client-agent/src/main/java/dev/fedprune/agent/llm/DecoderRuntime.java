package dev.fedprune.agent.llm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import dev.fedprune.agent.engine.ComputeThreads;

/**
 * The LLaMA decoder forward pass on DJL, one sequence and one layer at a time: RMSNorm, grouped-query
 * attention with RoPE and a causal (optionally sliding-window) mask, SwiGLU MLP, residuals. Computes in
 * float32 whatever the checkpoint's dtype. Owns the base manager of everything it creates.
 */
public final class DecoderRuntime implements AutoCloseable {
    static {
        // DJL must never try the network: the PyTorch natives come from the pytorch-native-cpu jar.
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        NativeMemory.tune();
    }

    private final LlamaConfig config;
    private final NDManager manager;
    private final int maxTokens;
    private final NDArray cos;
    private final NDArray sin;
    private final NDArray causalMask;

    public DecoderRuntime(LlamaConfig config, int maxTokens, Device device) {
        this.config = config;
        this.maxTokens = maxTokens;
        this.manager = NDManager.newBaseManager(device);
        configureThreads(config);
        float[][] tables = RotaryEmbedding.tables(config, maxTokens);
        cos = manager.create(tables[0], new Shape(maxTokens, config.headDim()));
        sin = manager.create(tables[1], new Shape(maxTokens, config.headDim()));
        float[] mask = new float[maxTokens * maxTokens];
        int window = config.slidingWindow();
        for (int i = 0; i < maxTokens; i++) {
            for (int j = 0; j < maxTokens; j++) {
                boolean hidden = j > i || (window > 0 && i - j >= window);
                mask[i * maxTokens + j] = hidden ? Float.NEGATIVE_INFINITY : 0f;
            }
        }
        causalMask = manager.create(mask, new Shape(maxTokens, maxTokens));
    }

    /**
     * Intra-op threads: one for small models, where PyTorch's OpenMP workers only spin against each
     * other (5x slower on a busy 2-core machine), all cores otherwise; {@code -Dfedprune.threads=N} overrides.
     * Never more than the agent's {@code limits.threads} ({@link ComputeThreads}).
     */
    private static void configureThreads(LlamaConfig config) {
        String forced = System.getProperty("fedprune.threads");
        int threads = ComputeThreads.cap(forced != null ? Integer.parseInt(forced)
                : config.hiddenSize() < 512 ? 1 : Runtime.getRuntime().availableProcessors());
        if (ai.djl.pytorch.jni.JniUtils.getNumThreads() != threads) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
    }

    /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static Device device(String name) {
        if (name == null || name.equals("cpu")) {
            return Device.cpu();
        }
        if (name.equals("cuda") || name.equals("gpu")) {
            return Device.gpu();
        }
        if (name.startsWith("cuda:")) {
            return Device.gpu(Integer.parseInt(name.substring(5)));
        }
        throw new IllegalArgumentException("unknown device '" + name + "', expected cpu, cuda or cuda:N");
    }

    public LlamaConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    public int maxTokens() {
        return maxTokens;
    }

    public DeviceLayer upload(LayerWeights weights) {
        return new DeviceLayer(this, config, weights);
    }

    /** Uploads a layer reading one tensor at a time, so that at most one weight matrix is on the heap. */
    public DeviceLayer uploadStreaming(LlamaModel model, int layer) throws java.io.IOException {
        DeviceLayer device = new DeviceLayer(this, config, model.loadLayerShell(layer));
        try {
            for (Projection p : Projection.values()) {
                device.put(p, model.loadWeight(layer, p));
            }
        } catch (RuntimeException | java.io.IOException e) {
            device.close();
            throw e;
        }
        return device;
    }

    private static final int STAGING_BYTES = 1 << 20;
    private java.nio.ByteBuffer staging;

    /**
     * Copies floats into an engine-owned array of {@code target}. DJL's {@code create} aliases a fresh
     * direct buffer that only the garbage collector frees; copying through one reused 1 MiB staging
     * buffer, row block by row block, keeps native memory exactly what the live arrays need.
     */
    public synchronized NDArray toEngine(NDManager target, float[] values, Shape shape) {
        if (staging == null) {
            staging = java.nio.ByteBuffer.allocateDirect(STAGING_BYTES).order(java.nio.ByteOrder.nativeOrder());
        }
        long rows = shape.dimension() == 0 ? 1 : shape.get(0);
        int rowFloats = Math.toIntExact(values.length / Math.max(rows, 1));
        int rowsPerChunk = Math.max(1, STAGING_BYTES / Float.BYTES / Math.max(rowFloats, 1));
        if ((long) rowFloats * Float.BYTES > STAGING_BYTES || rows <= rowsPerChunk) {
            return copyWhole(target, values, shape);
        }
        NDArray owned = target.zeros(shape, ai.djl.ndarray.types.DataType.FLOAT32);
        try (NDManager scope = target.newSubManager()) {
            for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                int n = (int) Math.min(rowsPerChunk, rows - r0);
                staging.clear();
                staging.asFloatBuffer().put(values, (int) (r0 * rowFloats), n * rowFloats);
                staging.limit(n * rowFloats * Float.BYTES);
                long[] dims = shape.getShape().clone();
                dims[0] = n;
                NDArray chunk = scope.create(staging.slice().order(java.nio.ByteOrder.nativeOrder()), new Shape(dims),
                        ai.djl.ndarray.types.DataType.FLOAT32);
                owned.set(new ai.djl.ndarray.index.NDIndex("{}:{}", r0, r0 + n), chunk);
                chunk.close();
            }
        }
        return owned;
    }

    private NDArray copyWhole(NDManager target, float[] values, Shape shape) {
        java.nio.ByteBuffer buffer = (long) values.length * Float.BYTES <= STAGING_BYTES ? staging
                : java.nio.ByteBuffer.allocateDirect(values.length * Float.BYTES).order(java.nio.ByteOrder.nativeOrder());
        buffer.clear();
        buffer.asFloatBuffer().put(values);
        buffer.limit(values.length * Float.BYTES);
        try (NDManager scope = target.newSubManager()) {
            NDArray aliased = scope.create(buffer.slice().order(java.nio.ByteOrder.nativeOrder()), shape, ai.djl.ndarray.types.DataType.FLOAT32);
            NDArray owned = aliased.duplicate();
            owned.attach(target);
            return owned;
        }
    }

    /** Runs one decoder layer; the result belongs to {@code h}'s manager, {@code h} is left as is. */
    public NDArray layer(NDArray h, DeviceLayer w, ActivationObserver observer) {
        NDManager owner = h.getManager();
        try (NDManager scope = owner.newSubManager()) {
            h.tempAttach(scope);
            NDArray out = layerInScope(h, w, observer);
            out.attach(owner);
            return out;
        }
    }

    private NDArray layerInScope(NDArray h, DeviceLayer w, ActivationObserver observer) {
        w.checkComplete();
        LlamaConfig c = config;
        int t = Math.toIntExact(h.getShape().get(0));
        if (t > maxTokens) {
            throw new IllegalArgumentException("sequence of " + t + " tokens exceeds the runtime's " + maxTokens);
        }
        int heads = c.heads();
        int kvHeads = c.kvHeads();
        int hd = c.headDim();

        NDArray x = rmsNorm(h, w.inputNorm);
        observer.observe(Projection.InputSite.ATTENTION_INPUT, x);
        NDArray q = linear(x, w, Projection.Q).reshape(t, heads, hd).transpose(1, 0, 2);
        NDArray k = linear(x, w, Projection.K).reshape(t, kvHeads, hd).transpose(1, 0, 2);
        NDArray v = linear(x, w, Projection.V).reshape(t, kvHeads, hd).transpose(1, 0, 2);
        NDArray cosT = cos.get(new NDIndex("0:{}", t));
        NDArray sinT = sin.get(new NDIndex("0:{}", t));
        q = rope(q, cosT, sinT, hd);
        k = rope(k, cosT, sinT, hd);
        if (kvHeads != heads) {
            int rep = heads / kvHeads;
            k = k.expandDims(1).repeat(1, rep).reshape(heads, t, hd);
            v = v.expandDims(1).repeat(1, rep).reshape(heads, t, hd);
        }
        NDArray scores = q.matMul(k.transpose(0, 2, 1)).mul((float) (1.0 / Math.sqrt(hd)));
        scores = scores.add(causalMask.get(new NDIndex("0:{}, 0:{}", t, t)));
        NDArray attention = scores.softmax(-1).matMul(v).transpose(1, 0, 2).reshape(t, (long) heads * hd);
        observer.observe(Projection.InputSite.ATTENTION_OUTPUT, attention);
        NDArray h1 = h.add(linear(attention, w, Projection.O));

        NDArray x2 = rmsNorm(h1, w.postAttentionNorm);
        observer.observe(Projection.InputSite.MLP_INPUT, x2);
        NDArray gate = linear(x2, w, Projection.GATE);
        NDArray hidden = gate.mul(Activation.sigmoid(gate)).mul(linear(x2, w, Projection.UP));
        observer.observe(Projection.InputSite.MLP_HIDDEN, hidden);
        return h1.add(linear(hidden, w, Projection.DOWN));
    }

    private static NDArray linear(NDArray x, DeviceLayer w, Projection p) {
        NDArray bias = w.biases.get(p);
        NDList out = bias == null ? Linear.linear(x, w.weights.get(p)) : Linear.linear(x, w.weights.get(p), bias);
        return out.singletonOrThrow();
    }

    private NDArray rmsNorm(NDArray h, NDArray weight) {
        NDArray variance = h.square().mean(new int[] {-1}, true);
        return h.div(variance.add((float) config.rmsNormEps()).sqrt()).mul(weight);
    }

    private static NDArray rope(NDArray x, NDArray cos, NDArray sin, int hd) {
        int half = hd / 2;
        NDArray x1 = x.get(new NDIndex(":, :, 0:{}", half));
        NDArray x2 = x.get(new NDIndex(":, :, {}:", half));
        NDArray rotated = NDArrays.concat(new NDList(x2.neg(), x1), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** Final RMSNorm and LM head: logits {@code [tokens, vocab]} in {@code h}'s manager. */
    public NDArray logits(NDArray h, NDArray finalNorm, NDArray lmHead) {
        NDManager owner = h.getManager();
        try (NDManager scope = owner.newSubManager()) {
            h.tempAttach(scope);
            NDArray out = Linear.linear(rmsNorm(h, finalNorm), lmHead).singletonOrThrow();
            out.attach(owner);
            return out;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
