package dev.fedprune.simulations.cli;

import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.simulations.scenario.Scenario;
import dev.fedprune.simulations.scenario.SimulationRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The newcomer's demo: a FedPrLLM job with 4 agents on the fixture model when it is there, or on a
 * synthetic LLaMA model otherwise.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Run a 4-agent FedPrLLM job and print per-layer sparsity.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--fixtures", defaultValue = "../shared/fixtures", description = "Fixtures directory with fortunes-lm (default: ${DEFAULT-VALUE}).")
    Path fixtures;

    @Option(names = "--out", defaultValue = "demo-output", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--agents", defaultValue = "4", description = "Number of agents (default: ${DEFAULT-VALUE}).")
    int agents;

    @Override
    public Integer call() throws Exception {
        Path model = fixtures.resolve("fortunes-lm");
        boolean real = Files.isRegularFile(model.resolve("model.safetensors"));
        Map<String, Object> job = new LinkedHashMap<>();
        var engines = AgentEngines.all();
        String pruner = engines.containsKey(PruneMethod.PRUNE_METHOD_WANDA) ? "wanda" : "magnitude";
        job.put("localPruner", pruner);
        job.put("localComparisonGroup", "row");
        job.put("sparsity", 0.5);
        job.put("comparisonGroup", "layer");
        job.put("deadlineSeconds", 600);
        Scenario scenario;
        if (real) {
            System.out.println("demo: fixture model " + model.toAbsolutePath().normalize());
            scenario = new Scenario("demo", model.toString(), model.resolve("calibration.jsonl"), agents, Scenario.Partition.CATEGORY, 0, job);
        } else {
            System.out.println("demo: no fixture model at " + model.toAbsolutePath().normalize() + "; using a generated one");
            scenario = new Scenario("demo", "synthetic", null, agents, Scenario.Partition.IID, 0, job);
        }
        System.out.println("demo: " + agents + " agents prune locally with " + pruner + "; the coordinator votes per layer at 50% sparsity");
        SimulationRunner.Result result = SimulationRunner.run(scenario, out, engines, System.out);
        SimulationRunner.printSummary(result, System.out);
        return result.state().equals("COMPLETED") ? 0 : 1;
    }
}
