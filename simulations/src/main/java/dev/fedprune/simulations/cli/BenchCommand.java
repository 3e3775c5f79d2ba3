package dev.fedprune.simulations.cli;

import dev.fedprune.aggregation.bench.AggregationBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Benchmarks; each ends with one JSON line of results. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (results as one JSON line).",
        subcommands = {BenchCommand.Aggregation.class, BenchCommand.Activations.class})
final class BenchCommand {

    /** FedPrLLM vote aggregation against a sort-based implementation (docs/benchmarks.md, "Aggregation"). */
    @Command(name = "aggregation", mixinStandardHelpOptions = true,
            description = "Fold N agents' masks over the seven linear tensors of one LLaMA-7B layer and select the global mask.")
    static final class Aggregation implements Callable<Integer> {
        @Option(names = "--agents", defaultValue = "64", description = "Agents (default: ${DEFAULT-VALUE}).")
        int agents;

        @Option(names = "--weights", defaultValue = "0", description = "Weights in total; 0 = one LLaMA-7B decoder layer, 202,375,168 (default: ${DEFAULT-VALUE}).")
        long weights;

        @Option(names = "--sparsity", defaultValue = "0.5", description = "Sparsity of every agent's mask (default: ${DEFAULT-VALUE}).")
        double sparsity;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Override
        public Integer call() {
            System.out.println(AggregationBench.run(agents, weights, sparsity, seed));
            return 0;
        }
    }

    /** FedMef's scaled activation pruning: bytes held for backward against the dense cache (docs/benchmarks.md, "Activation memory"). */
    @Command(name = "activations", mixinStandardHelpOptions = true,
            description = "Bytes held for backward in one training step of the small NSConv CNN with SAP at --gamma, against the dense cache.")
    static final class Activations implements Callable<Integer> {
        @Option(names = "--gamma", required = true, description = "SAP removal ratio in [0, 1).")
        double gamma;

        @Option(names = "--batch", defaultValue = "64", description = "Images per step (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--density", defaultValue = "0.1", description = "ERK density of the weights (default: ${DEFAULT-VALUE}).")
        double density;

        @Option(names = "--chunk-rows", defaultValue = "8", description = "Samples per rebuilt slice in backward (default: ${DEFAULT-VALUE}).")
        int chunkRows;

        @Option(names = "--steps", defaultValue = "5", description = "Timed steps after one warm-up (default: ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--data", description = "Directory of the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist).")
        java.nio.file.Path data = dev.fedprune.agent.image.FashionMnist.DEBIAN_DIRECTORY;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Override
        public Integer call() throws Exception {
            if (!(gamma >= 0 && gamma < 1)) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--gamma must lie in [0, 1), got " + gamma);
            }
            dev.fedprune.agent.bench.ActivationBench.run(
                    new dev.fedprune.agent.bench.ActivationBench.Options(data, gamma, batch, density, chunkRows, steps, seed), System.out);
            return 0;
        }
    }
}
