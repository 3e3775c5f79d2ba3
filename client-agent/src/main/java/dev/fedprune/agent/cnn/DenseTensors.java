package dev.fedprune.agent.cnn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every tensor of a {@link MaskedCnn} that is not a sparse layer: BatchNorm layers (affine parameters
 * and running statistics) and dense trainable tensors (biases, gains), by name, for export, import and
 * the optimiser.
 */
final class DenseTensors {
    private final NDManager manager;
    private final Map<String, NDArray[]> batchNorms = new LinkedHashMap<>(); // gamma, beta, runningMean, runningVar
    private final List<NDArray> trainable = new ArrayList<>();
    private final Map<String, NDArray> byName = new LinkedHashMap<>();

    DenseTensors(NDManager manager) {
        this.manager = manager;
    }

    /** Declares a BatchNorm layer (gamma 1, beta 0, running mean 0, running variance 1). */
    void addBatchNorm(String name, int channels) {
        NDArray gamma = manager.ones(new Shape(channels));
        NDArray beta = manager.zeros(new Shape(channels));
        gamma.setRequiresGradient(true);
        beta.setRequiresGradient(true);
        NDArray[] bn = {gamma, beta, manager.zeros(new Shape(channels)), manager.ones(new Shape(channels))};
        batchNorms.put(name, bn);
        trainable.add(gamma);
        trainable.add(beta);
        byName.put(name + ".gamma", gamma);
        byName.put(name + ".beta", beta);
        byName.put(name + ".runningMean", bn[2]);
        byName.put(name + ".runningVar", bn[3]);
    }

    /** Declares a dense trainable tensor of {@code size} entries, all {@code initial}. */
    NDArray addDense(String name, int size, float initial) {
        NDArray p = manager.full(new Shape(size), initial);
        p.setRequiresGradient(true);
        trainable.add(p);
        byName.put(name, p);
        return p;
    }

    /** gamma, beta, running mean and running variance of a BatchNorm layer. */
    NDArray[] batchNorm(String name) {
        return batchNorms.get(name);
    }

    /** The trainable tensors (BatchNorm affine parameters, biases, gains) in declaration order. */
    List<NDArray> trainable() {
        return trainable;
    }

    Map<String, Integer> batchNormChannels() {
        Map<String, Integer> out = new LinkedHashMap<>();
        batchNorms.forEach((name, bn) -> out.put(name, (int) bn[2].size()));
        return out;
    }

    long trainableCount() {
        long n = 0;
        for (NDArray p : trainable) {
            n += p.size();
        }
        return n;
    }

    Map<String, float[]> state() {
        Map<String, float[]> out = new LinkedHashMap<>();
        byName.forEach((name, t) -> out.put(name, t.toFloatArray()));
        return out;
    }

    /** Replaces the tensors named in {@code state}, all checked before any is written. */
    void setState(Map<String, float[]> state) {
        for (Map.Entry<String, float[]> e : state.entrySet()) {
            NDArray t = byName.get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException("unknown dense tensor '" + e.getKey() + "', expected one of " + byName.keySet());
            }
            if (e.getValue().length != t.size()) {
                throw new IllegalArgumentException("dense tensor '" + e.getKey() + "': " + e.getValue().length + " values, expected " + t.size());
            }
            for (float v : e.getValue()) {
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("dense tensor '" + e.getKey() + "' holds a non-finite value " + v);
                }
            }
        }
        state.forEach((name, values) -> byName.get(name).set(values));
    }

    Map<String, BnStatistics> batchNormStatistics() {
        Map<String, BnStatistics> out = new LinkedHashMap<>();
        batchNorms.forEach((name, bn) -> out.put(name, new BnStatistics(bn[2].toFloatArray(), bn[3].toFloatArray())));
        return out;
    }

    /** Installs statistics for every BatchNorm layer, all checked before any is written. */
    void setBatchNormStatistics(Map<String, BnStatistics> statistics) {
        for (Map.Entry<String, NDArray[]> e : batchNorms.entrySet()) {
            BnStatistics s = statistics.get(e.getKey());
            long channels = e.getValue()[2].size();
            String problem = s == null ? "missing" : s.channels() != channels ? s.channels() + " channels, expected " + channels : s.problem();
            if (problem != null) {
                throw new IllegalArgumentException("bnStatistics[" + e.getKey() + "]: " + problem);
            }
        }
        batchNorms.forEach((name, bn) -> {
            bn[2].set(statistics.get(name).mean());
            bn[3].set(statistics.get(name).variance());
        });
    }

    /** Running means to 0 and running variances to 1, in place. */
    void resetRunningStatistics() {
        for (NDArray[] bn : batchNorms.values()) {
            bn[2].subi(bn[2]);
            bn[3].subi(bn[3]).addi(1f);
        }
    }
}
