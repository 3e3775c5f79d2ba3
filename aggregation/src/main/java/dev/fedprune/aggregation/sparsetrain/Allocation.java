package dev.fedprune.aggregation.sparsetrain;

import java.util.List;

/**
 * One rule that spreads a density budget over the sparse layers; the FedTiny candidate pool uses
 * several rules with the same budget (algorithms.md 3.3 A1, [U]: the paper does not say which).
 */
public sealed interface Allocation {

    /** Layer densities for the overall density {@code density}. */
    double[] densities(List<LayerShape> layers, double density);

    /** A short stable name for reports and messages, e.g. {@code erk} or {@code dirichlet-erk(0.5,7)}. */
    String label();

    record Erk() implements Allocation {
        public double[] densities(List<LayerShape> layers, double density) {
            return DensityAllocation.erk(layers, density);
        }

        public String label() {
            return "erk";
        }
    }

    record Uniform() implements Allocation {
        public double[] densities(List<LayerShape> layers, double density) {
            return DensityAllocation.uniform(layers, density);
        }

        public String label() {
            return "uniform";
        }
    }

    record Er() implements Allocation {
        public double[] densities(List<LayerShape> layers, double density) {
            return DensityAllocation.er(layers, density);
        }

        public String label() {
            return "er";
        }
    }

    /** ERK perturbed by a seeded Dirichlet(concentration) draw over the layers. */
    record DirichletErk(double concentration, long seed) implements Allocation {
        public DirichletErk {
            if (!(concentration > 0) || Double.isInfinite(concentration)) {
                throw new IllegalArgumentException("concentration must be finite and > 0, got " + concentration);
            }
        }

        public double[] densities(List<LayerShape> layers, double density) {
            return DensityAllocation.dirichletPerturbedErk(layers, density, concentration, seed);
        }

        public String label() {
            return "dirichlet-erk(" + concentration + "," + seed + ")";
        }
    }
}
