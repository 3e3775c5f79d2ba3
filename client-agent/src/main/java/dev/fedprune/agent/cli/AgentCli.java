package dev.fedprune.agent.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the agent jar: {@code run} joins a federation; the other commands work standalone. */
@Command(name = "fedprune-agent", mixinStandardHelpOptions = true, version = "FedPrune agent 0.1.0",
        description = "FedPrune client agent: computes pruning masks on local data and sends only masks.",
        subcommands = {EnrollCommand.class, RunCommand.class, PruneCommand.class, EvalCommand.class})
public final class AgentCli {

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        // DJL must never try the network: the PyTorch natives come from the pytorch-native-cpu jar.
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        return new CommandLine(new AgentCli()).execute(args);
    }
}
