package dev.fedprune.simulations.cli;

import dev.fedprune.simulations.study.TrainingReport;
import dev.fedprune.simulations.study.TrainingRow;
import dev.fedprune.simulations.study.TrainingScenario;
import dev.fedprune.simulations.study.TrainingStudyRunner;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code study-training SCENARIO.yaml --out DIR}: every run of a sparse training study, then results.json, results.csv and report.html. */
@Command(name = "study-training", mixinStandardHelpOptions = true,
        description = "Run a federated sparse training study (dense FedAvg, static sparse, FedTiny, FedMef and their ablations) and write its report.")
final class TrainingStudyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SCENARIO", description = "Training study scenario YAML file.")
    Path scenario;

    @Option(names = "--out", defaultValue = "training-study-output", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--work", description = "Where the agents' data and every run's coordinator and agents go (default: OUT/work).")
    Path work;

    @Option(names = "--report-only", description = "Run nothing: redraw report.html and results.csv from OUT/results.json.")
    boolean reportOnly;

    @Override
    public Integer call() throws Exception {
        TrainingScenario s;
        try {
            s = TrainingScenario.load(scenario);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        if (reportOnly) {
            TrainingReport.write(s, TrainingReport.read(out.resolve("results.json")), out);
            System.out.println("redrawn: " + out.resolve("report.html"));
            return 0;
        }
        List<TrainingRow> rows = new TrainingStudyRunner(s, out, work == null ? out.resolve("work") : work, System.out).run();
        TrainingReport.write(s, rows, out);
        System.out.println("results: " + out.resolve("results.json") + ", " + out.resolve("results.csv") + ", " + out.resolve("report.html"));
        return rows.stream().allMatch(r -> r.state().equals("COMPLETED")) ? 0 : 1;
    }
}
