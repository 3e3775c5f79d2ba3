package dev.fedprune.simulations.cli;

import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.simulations.scenario.Partitioner;
import dev.fedprune.simulations.scenario.Scenario;
import dev.fedprune.simulations.scenario.SimulationRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Prepares what {@code demo.sh} hands to separate coordinator and agent processes: the model directory
 * (the fixture model, or a generated one without fixtures) and each agent's own calibration and
 * evaluation files (whole categories per agent, the same categories in both files). Prints
 * {@code model=DIR} and {@code data=DIR} for the script.
 */
@Command(name = "demo-setup", mixinStandardHelpOptions = true,
        description = "Write the model and per-agent data files for the multi-process demo (demo.sh).")
final class DemoSetupCommand implements Callable<Integer> {
    @Option(names = "--fixtures", defaultValue = "../shared/fixtures", description = "Fixtures directory with fortunes-lm (default: ${DEFAULT-VALUE}).")
    Path fixtures;

    @Option(names = "--out", required = true, description = "Directory for the generated model (if any) and the agents' data.")
    Path out;

    @Option(names = "--agents", defaultValue = "4", description = "Number of agents (default: ${DEFAULT-VALUE}).")
    int agents;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the split (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        Path fixture = fixtures.resolve("fortunes-lm");
        Path data = out.resolve("data");
        Path model;
        if (Files.isRegularFile(fixture.resolve("model.safetensors"))) {
            model = fixture;
            System.err.println("demo-setup: fixture model " + fixture.toAbsolutePath().normalize()
                    + "; each agent holds whole categories of its calibration and evaluation documents");
            Partitioner.split(fixture.resolve("calibration.jsonl"), agents, Scenario.Partition.CATEGORY, seed, data.resolve("calibration"));
            Partitioner.split(fixture.resolve("evaluation.jsonl"), agents, Scenario.Partition.CATEGORY, seed, data.resolve("evaluation"));
        } else {
            model = out.resolve("synthetic-model");
            System.err.println("demo-setup: no fixture model at " + fixture.toAbsolutePath().normalize()
                    + "; generating a small LLaMA model with random weights and random token data");
            SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 64, 172, 4, 2, 259, 64, true, DType.F32), seed);
            Files.createDirectories(out);
            Path calibration = SimulationRunner.syntheticData(out.resolve("synthetic-calibration.jsonl"), 64, seed);
            Path evaluation = SimulationRunner.syntheticData(out.resolve("synthetic-evaluation.jsonl"), 64, seed + 1);
            Partitioner.split(calibration, agents, Scenario.Partition.CATEGORY, seed, data.resolve("calibration"));
            Partitioner.split(evaluation, agents, Scenario.Partition.CATEGORY, seed, data.resolve("evaluation"));
        }
        System.out.println("model=" + model.toAbsolutePath().normalize());
        System.out.println("data=" + data.toAbsolutePath().normalize());
        return 0;
    }
}
