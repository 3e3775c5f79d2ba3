package dev.fedprune.aggregation.sparsetrain;

import java.util.SplittableRandom;

/**
 * Seeded draws from Gamma(shape, 1) and Dirichlet(concentration): used to perturb layer-wise density
 * allocations of FedTiny candidates and, on the agent side, for label-skewed data partitions. The same
 * seed and the same call sequence give the same draws bit for bit.
 */
public final class DirichletSampler {
    private final SplittableRandom random;

    public DirichletSampler(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** One draw of {@code k} non-negative shares summing to 1 from the symmetric Dirichlet(concentration). */
    public double[] next(double concentration, int k) {
        if (!(concentration > 0) || Double.isInfinite(concentration)) {
            throw new IllegalArgumentException("Dirichlet concentration must be finite and > 0, got " + concentration);
        }
        if (k < 1) {
            throw new IllegalArgumentException("Dirichlet dimension must be >= 1, got " + k);
        }
        double[] shares = new double[k];
        double sum = 0;
        for (int i = 0; i < k; i++) {
            shares[i] = gamma(concentration);
            sum += shares[i];
        }
        if (sum == 0) {
            // Every gamma draw underflowed (tiny concentration): the limit is all mass on one coordinate.
            shares[random.nextInt(k)] = 1;
            return shares;
        }
        for (int i = 0; i < k; i++) {
            shares[i] /= sum;
        }
        return shares;
    }

    /** Gamma(shape, 1) by Marsaglia and Tsang, boosted by {@code U^(1/shape)} for shape below 1. */
    public double gamma(double shape) {
        if (shape < 1) {
            return gamma(shape + 1) * Math.pow(random.nextDouble(), 1 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x = random.nextGaussian();
            double v = 1 + c * x;
            if (v <= 0) {
                continue;
            }
            v = v * v * v;
            double u = random.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
                return d * v;
            }
        }
    }

    /** The underlying generator, for callers that shuffle with the same stream. */
    public SplittableRandom random() {
        return random;
    }
}
