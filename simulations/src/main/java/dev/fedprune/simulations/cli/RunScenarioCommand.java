package dev.fedprune.simulations.cli;

import dev.fedprune.simulations.study.ModelEvaluator;
import dev.fedprune.simulations.study.StudyReport;
import dev.fedprune.simulations.study.StudyRow;
import dev.fedprune.simulations.study.StudyRunner;
import dev.fedprune.simulations.study.StudyScenario;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code run SCENARIO.yaml --out DIR}: every setting of a scenario (or the part of its grid the filters name),
 * then results.json, results.csv, summary.md and report.html; with {@code --append}, joined to the results
 * already in DIR.
 */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run a scenario file and write its report.")
final class RunScenarioCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SCENARIO", description = "Scenario YAML file.")
    Path scenario;

    @Option(names = "--out", defaultValue = "simulation-output", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--append", description = "Add this scenario's rows to the results.json already in --out (a row of the same "
            + "setting is replaced) and rewrite the reports from both, e.g. a method added to a study after it ran.")
    boolean append;

    @Option(names = "--seeds", split = ",", description = "Run only these seeds of the scenario's grid.")
    List<Long> seeds = List.of();

    @Option(names = "--sparsities", split = ",", description = "Run only these sparsities of the scenario's grid.")
    List<Double> sparsities = List.of();

    @Option(names = "--agents", split = ",", description = "Run only these agent counts of the scenario's grid.")
    List<Integer> agents = List.of();

    @Option(names = "--partitions", split = ",", description = "Run only these partitions of the scenario's grid, by label: iid, category, dirichlet-0.3.")
    List<String> partitions = List.of();

    @Override
    public Integer call() throws Exception {
        StudyScenario s;
        try {
            s = StudyScenario.load(scenario).restrict(seeds, sparsities, agents, partitions);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        ModelEvaluator evaluator = s.evaluation() == null
                ? (model, data) -> new ModelEvaluator.Evaluation(Double.NaN, Map.of(), 0)
                : AgentEngines.evaluator();
        List<StudyRow> earlier = List.of();
        String title = s.name();
        if (append) {
            Path results = out.resolve("results.json");
            if (!Files.isRegularFile(results)) {
                System.err.println("--append: no " + results + " to add to");
                return 2;
            }
            earlier = StudyReport.read(results);
            title = titleOf(out).orElse(title);
        }
        List<StudyRow> rows = new StudyRunner(s, out, evaluator, AgentEngines.all(), System.out, earlier).run();
        StudyReport.write(title, StudyReport.merge(earlier, rows), out);
        System.out.println("results: " + out.resolve("results.json") + ", " + out.resolve("results.csv") + ", " + out.resolve("report.html"));
        return rows.stream().allMatch(r -> r.state().equals("COMPLETED")) ? 0 : 1;
    }

    /** The title of the study already in {@code out}, from its summary.md, so that appended rows keep the report's name. */
    private static java.util.Optional<String> titleOf(Path out) throws java.io.IOException {
        Path summary = out.resolve("summary.md");
        if (!Files.isRegularFile(summary)) {
            return java.util.Optional.empty();
        }
        String first = Files.readAllLines(summary).stream().findFirst().orElse("");
        return first.startsWith("# ") ? java.util.Optional.of(first.substring(2)) : java.util.Optional.empty();
    }
}
