package dev.fedprune.simulations.cli;

import dev.fedprune.aggregation.bench.AggregationBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Benchmarks; each ends with one JSON line of results. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (results as one JSON line).",
        subcommands = {BenchCommand.Aggregation.class})
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
}
