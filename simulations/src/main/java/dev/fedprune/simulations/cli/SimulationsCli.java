package dev.fedprune.simulations.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the simulations jar. */
@Command(name = "fedprune-sim", mixinStandardHelpOptions = true, version = "FedPrune simulations 0.1.0",
        description = "Run federations of virtual agents in one JVM over real gRPC.",
        subcommands = {RunScenarioCommand.class, TrainingStudyCommand.class, DemoCommand.class, DemoSetupCommand.class, BenchCommand.class,
                GenerateLlamaCommand.class, MergeResultsCommand.class})
public final class SimulationsCli {
    public static void main(String[] args) {
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        System.exit(new CommandLine(new SimulationsCli()).execute(args));
    }
}
