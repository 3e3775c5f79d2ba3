package dev.fedprune.simulations.cli;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.GeneratedImages;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.LabelPartitioner;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.simulations.scenario.Partitioner;
import dev.fedprune.simulations.scenario.Scenario;
import dev.fedprune.simulations.scenario.SimulationRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Prepares what {@code demo.sh} hands to separate coordinator and agent processes: the model directory
 * (the fixture model, or a generated one without fixtures) and each agent's own calibration and
 * evaluation files (whole categories per agent, the same categories in both files), printing
 * {@code model=DIR} and {@code data=DIR} for the script; with {@code --images}, each agent's images for
 * a sparse-training job instead, printing {@code images=DIR}.
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

    @Option(names = "--images", description = "Write each agent's images for a sparse-training job instead: a Dirichlet (alpha 0.5) share"
            + " of Fashion-MNIST's training images and an IID slice of its test images, from --fashion-mnist when installed,"
            + " generated images otherwise.")
    boolean images;

    @Option(names = "--fashion-mnist", description = "Fashion-MNIST IDX directory (default: ${DEFAULT-VALUE}).")
    Path fashionMnist = FashionMnist.DEBIAN_DIRECTORY;

    @Option(names = "--train-images", defaultValue = "6000", description = "Training images shared out among the agents (default: ${DEFAULT-VALUE}).")
    int trainImages;

    @Override
    public Integer call() throws Exception {
        if (images) {
            return writeImages();
        }
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

    /** Each agent's own IDX directory (agent-N under data/images), printed as {@code images=DIR}. */
    private int writeImages() throws Exception {
        LabeledImages train;
        LabeledImages test;
        if (FashionMnist.isPresent(fashionMnist)) {
            train = FashionMnist.load(fashionMnist, FashionMnist.Split.TRAIN);
            test = FashionMnist.load(fashionMnist, FashionMnist.Split.TEST);
            System.err.println("demo-setup: Fashion-MNIST from " + fashionMnist + "; each agent gets a Dirichlet (alpha 0.5) share of "
                    + Math.min(trainImages, train.size()) + " training images");
        } else {
            train = GeneratedImages.bars(trainImages, seed);
            test = GeneratedImages.bars(2000, seed + 1);
            System.err.println("demo-setup: Fashion-MNIST is not installed at " + fashionMnist + " (apt-get install dataset-fashion-mnist);"
                    + " generating images of bars instead");
        }
        int[] labels = java.util.Arrays.copyOf(train.labelArray(), Math.min(trainImages, train.size()));
        List<int[]> parts = LabelPartitioner.dirichlet(labels, train.classCount(), agents, 0.5, 100, seed);
        List<int[]> heldOut = LabelPartitioner.iid(Math.min(2000, test.size()), agents, 50, seed + 1);
        Path root = out.resolve("data").resolve("images");
        for (int a = 0; a < agents; a++) {
            Path dir = root.resolve("agent-" + a);
            IdxWriter.write(dir, FashionMnist.Split.TRAIN, train, parts.get(a));
            IdxWriter.write(dir, FashionMnist.Split.TEST, test, heldOut.get(a));
        }
        System.out.println("images=" + root.toAbsolutePath().normalize());
        return 0;
    }
}
