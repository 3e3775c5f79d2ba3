package dev.fedprune.simulations.cli;

import dev.fedprune.simulations.study.ModelEvaluator;
import dev.fedprune.simulations.study.StudyReport;
import dev.fedprune.simulations.study.StudyRow;
import dev.fedprune.simulations.study.StudyRunner;
import dev.fedprune.simulations.study.StudyScenario;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code run SCENARIO.yaml --out DIR}: every setting of a scenario, then results.json, results.csv and report.html. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run a scenario file and write its report.")
final class RunScenarioCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SCENARIO", description = "Scenario YAML file.")
    Path scenario;

    @Option(names = "--out", defaultValue = "simulation-output", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() throws Exception {
        StudyScenario s;
        try {
            s = StudyScenario.load(scenario);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        ModelEvaluator evaluator = s.evaluation() == null
                ? (model, data) -> new ModelEvaluator.Evaluation(Double.NaN, Map.of(), 0)
                : AgentEngines.evaluator();
        List<StudyRow> rows = new StudyRunner(s, out, evaluator, AgentEngines.all(), System.out).run();
        StudyReport.write(s.name(), rows, out);
        System.out.println("results: " + out.resolve("results.json") + ", " + out.resolve("results.csv") + ", " + out.resolve("report.html"));
        return rows.stream().allMatch(r -> r.state().equals("COMPLETED")) ? 0 : 1;
    }
}
