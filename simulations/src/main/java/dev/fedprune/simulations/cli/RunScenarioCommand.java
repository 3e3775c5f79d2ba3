package dev.fedprune.simulations.cli;

import dev.fedprune.simulations.scenario.Scenario;
import dev.fedprune.simulations.scenario.SimulationRunner;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code run SCENARIO.yaml --out DIR}. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run a scenario file to the end.")
final class RunScenarioCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SCENARIO", description = "Scenario YAML file.")
    Path scenario;

    @Option(names = "--out", defaultValue = "simulation-output", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() throws Exception {
        SimulationRunner.Result result = SimulationRunner.run(Scenario.load(scenario), out, AgentEngines.all(), System.out);
        SimulationRunner.printSummary(result, System.out);
        return result.state().equals("COMPLETED") ? 0 : 1;
    }
}
