package dev.fedprune.agent.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.agent.llm.ActivationObserver;
import dev.fedprune.agent.llm.Projection;
import dev.fedprune.proto.v1.PruneMethod;
import java.util.EnumMap;
import java.util.Map;

/**
 * Collects, during one calibration pass over a layer, the statistics its pruner needs per input site:
 * Wanda's column norms (on the heap) or SparseGPT's Hessian running mean (on the engine, float32).
 */
final class LayerStatistics implements ActivationObserver, AutoCloseable {
    private final PruneMethod method;
    private final NDManager manager;
    private final Map<Projection.InputSite, WandaStatistics> wanda = new EnumMap<>(Projection.InputSite.class);
    private final Map<Projection.InputSite, NDArray> hessians = new EnumMap<>(Projection.InputSite.class);
    private final Map<Projection.InputSite, Integer> counts = new EnumMap<>(Projection.InputSite.class);

    LayerStatistics(PruneMethod method, NDManager parent) {
        this.method = method;
        this.manager = parent.newSubManager();
    }

    @Override
    public void observe(Projection.InputSite site, NDArray input) {
        int columns = Math.toIntExact(input.getShape().get(1));
        switch (method) {
            case PRUNE_METHOD_WANDA -> wanda.computeIfAbsent(site, s -> new WandaStatistics(columns))
                    .addSequence(input.square().sum(new int[] {0}).toFloatArray());
            case PRUNE_METHOD_SPARSEGPT -> {
                NDArray h = hessians.computeIfAbsent(site, s -> manager.zeros(new Shape(columns, columns)));
                int n = counts.getOrDefault(site, 0);
                h.muli((float) ((double) n / (n + 1)));
                n++;
                counts.put(site, n);
                h.addi(input.transpose().matMul(input).muli((float) (2.0 / n)));
            }
            default -> { }
        }
    }

    float[] wandaScaler(Projection.InputSite site) {
        WandaStatistics s = wanda.get(site);
        if (s == null) {
            throw new IllegalStateException("no calibration input reached " + site);
        }
        return s.scaler();
    }

    double[] hessian(Projection.InputSite site) {
        NDArray h = hessians.get(site);
        if (h == null) {
            throw new IllegalStateException("no calibration input reached " + site);
        }
        float[] f = h.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Override
    public void close() {
        manager.close();
    }
}
