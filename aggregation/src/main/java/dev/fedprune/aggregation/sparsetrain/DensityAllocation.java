package dev.fedprune.aggregation.sparsetrain;

import java.util.Arrays;
import java.util.List;

/**
 * Layer-wise density allocations for a target overall density {@code d} (algorithms.md 3.6): ERK as in
 * RigL (O-16), ER, uniform and random Dirichlet perturbations of ERK. All of them solve the same
 * problem: densities proportional to a raw weight per layer, scaled so that the kept weights meet the
 * budget {@code Σ_ℓ ⌊d·N_ℓ⌋}; a layer whose density would exceed 1 is made dense and the rest share
 * what is left. {@link #keptCounts} turns densities into whole weight counts that meet the budget
 * exactly.
 */
public final class DensityAllocation {

    private DensityAllocation() {
    }

    /** ERK densities of the sparse layers (RigL's Erdős–Rényi-Kernel), O-16. */
    public static double[] erk(List<LayerShape> layers, double density) {
        return erk(layers, density, 0);
    }

    /**
     * ERK densities when the model also holds {@code denseParameterCount} always-dense parameters
     * (biases, normalisation) that count toward the overall density: they are deducted from the
     * budget first, the way a forced-dense layer is ({@code rhs −= ⌊(1−d)·N_dense⌋}).
     */
    public static double[] erk(List<LayerShape> layers, double density, long denseParameterCount) {
        double[] raw = new double[layers.size()];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = layers.get(i).erkRawWeight();
        }
        return scaled(layers, density, raw, denseParameterCount);
    }

    /** ER densities: like ERK, but the kernel dimensions of a convolution do not count. */
    public static double[] er(List<LayerShape> layers, double density) {
        double[] raw = new double[layers.size()];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = layers.get(i).erRawWeight();
        }
        return scaled(layers, density, raw, 0);
    }

    /** The same density in every layer (up to the floor of the budget). */
    public static double[] uniform(List<LayerShape> layers, double density) {
        double[] raw = new double[layers.size()];
        Arrays.fill(raw, 1);
        return scaled(layers, density, raw, 0);
    }

    /**
     * ERK perturbed by a seeded Dirichlet draw: raw weights {@code p_ℓ · L · w_ℓ} with
     * {@code w ~ Dirichlet(concentration)} over the {@code L} layers. A large concentration stays close
     * to ERK, a small one moves the budget between layers aggressively. [U] (algorithms.md 3.3 A1).
     */
    public static double[] dirichletPerturbedErk(List<LayerShape> layers, double density, double concentration, long seed) {
        double[] w = new DirichletSampler(seed).next(concentration, layers.size());
        double[] raw = new double[layers.size()];
        for (int i = 0; i < raw.length; i++) {
            // A zero share would make the layer empty; the smallest positive double keeps it legal.
            raw[i] = layers.get(i).erkRawWeight() * layers.size() * Math.max(w[i], Double.MIN_NORMAL);
        }
        return scaled(layers, density, raw, 0);
    }

    /**
     * Densities proportional to {@code rawWeights}, capped at 1, meeting the budget
     * {@code Σ ⌊d·N_ℓ⌋ − ⌊(1−d)·denseParameterCount⌋} (algorithms.md 3.6).
     */
    public static double[] scaled(List<LayerShape> layers, double density, double[] rawWeights, long denseParameterCount) {
        checkDensity(density);
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("layers: at least one sparse layer is needed");
        }
        if (rawWeights.length != layers.size()) {
            throw new IllegalArgumentException("rawWeights: " + rawWeights.length + " values for " + layers.size() + " layers");
        }
        for (int i = 0; i < rawWeights.length; i++) {
            if (!(rawWeights[i] > 0) || Double.isInfinite(rawWeights[i])) {
                throw new IllegalArgumentException("rawWeights[" + i + "] (layer '" + layers.get(i).name() + "') must be finite and > 0, got " + rawWeights[i]);
            }
        }
        if (denseParameterCount < 0) {
            throw new IllegalArgumentException("denseParameterCount must be >= 0, got " + denseParameterCount);
        }
        int n = layers.size();
        boolean[] dense = new boolean[n];
        double epsilon;
        while (true) {
            double rhs = -Math.floor((1 - density) * denseParameterCount);
            double divisor = 0;
            for (int i = 0; i < n; i++) {
                long count = layers.get(i).weightCount();
                if (dense[i]) {
                    rhs -= (long) ((1 - density) * count);
                } else {
                    rhs += (long) (density * count);
                    divisor += rawWeights[i] * count;
                }
            }
            if (divisor == 0) {
                epsilon = 0; // every layer is dense
                break;
            }
            if (rhs <= 0) {
                throw new IllegalArgumentException("density " + density + " leaves no budget for the sparse layers after "
                        + denseParameterCount + " dense parameters and the layers forced dense");
            }
            epsilon = rhs / divisor;
            boolean changed = false;
            for (int i = 0; i < n; i++) {
                if (!dense[i] && epsilon * rawWeights[i] > 1) {
                    dense[i] = true;
                    changed = true;
                }
            }
            if (!changed) {
                break;
            }
        }
        double[] densities = new double[n];
        for (int i = 0; i < n; i++) {
            densities[i] = dense[i] ? 1.0 : epsilon * rawWeights[i];
        }
        return densities;
    }

    /** The weight budget {@code Σ_ℓ ⌊d·N_ℓ⌋} shared by every allocation of the same layers and density. */
    public static long budget(List<LayerShape> layers, double density) {
        checkDensity(density);
        long budget = 0;
        for (LayerShape layer : layers) {
            budget += (long) (density * layer.weightCount());
        }
        return budget;
    }

    /**
     * Whole kept-weight counts per layer that sum to exactly {@code budget}: every layer first gets
     * {@code ⌊density_ℓ·N_ℓ⌋} (at least 1), and the remaining weights go one each to the layers with the
     * largest fractional parts (ties: lowest layer index), never past {@code N_ℓ}. An excess (from the
     * minimum of 1, or from forced-dense layers: the rule {@code rhs −= ⌊(1−d)·N_ℓ⌋} of 3.6 can leave
     * the real-valued densities up to one weight per dense layer above {@code Σ ⌊d·N_ℓ⌋}) is taken back
     * from the sparse layers with the smallest fractional parts, dense layers last.
     */
    public static int[] keptCounts(List<LayerShape> layers, double[] densities, long budget) {
        int n = layers.size();
        if (densities.length != n) {
            throw new IllegalArgumentException("densities: " + densities.length + " values for " + n + " layers");
        }
        long total = 0;
        for (LayerShape layer : layers) {
            total += layer.weightCount();
        }
        if (budget < n || budget > total) {
            throw new IllegalArgumentException("budget " + budget + " must lie in [" + n + ", " + total + "] so that every layer keeps a weight");
        }
        int[] counts = new int[n];
        double[] fraction = new double[n];
        long sum = 0;
        for (int i = 0; i < n; i++) {
            double d = densities[i];
            if (!(d > 0) || d > 1) {
                throw new IllegalArgumentException("densities[" + i + "] (layer '" + layers.get(i).name() + "') must be in (0, 1], got " + d);
            }
            double exact = d * layers.get(i).weightCount();
            counts[i] = Math.max(1, (int) exact);
            fraction[i] = exact - (int) exact;
            sum += counts[i];
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (sum < budget) {
            Arrays.sort(order, (a, b) -> fraction[a] != fraction[b] ? Double.compare(fraction[b], fraction[a]) : Integer.compare(a, b));
            while (sum < budget) {
                boolean progressed = false;
                for (int k = 0; k < n && sum < budget; k++) {
                    int i = order[k];
                    if (counts[i] < layers.get(i).weightCount()) {
                        counts[i]++;
                        sum++;
                        progressed = true;
                    }
                }
                if (!progressed) {
                    throw new IllegalStateException("budget " + budget + " exceeds the layers' capacity");
                }
            }
        } else if (sum > budget) {
            // Forced-dense layers give back last; then the smallest fractional parts first.
            Arrays.sort(order, (a, b) -> {
                boolean denseA = densities[a] == 1;
                boolean denseB = densities[b] == 1;
                if (denseA != denseB) {
                    return denseA ? 1 : -1;
                }
                return fraction[a] != fraction[b] ? Double.compare(fraction[a], fraction[b]) : Integer.compare(b, a);
            });
            while (sum > budget) {
                for (int k = 0; k < n && sum > budget; k++) {
                    int i = order[k];
                    if (counts[i] > 1) {
                        counts[i]--;
                        sum--;
                    }
                }
            }
        }
        return counts;
    }

    static void checkDensity(double density) {
        if (!(density > 0) || density > 1) {
            throw new IllegalArgumentException("density must be in (0, 1], got " + density);
        }
    }
}
