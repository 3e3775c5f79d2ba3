package dev.fedprune.simulations.cli;

import dev.fedprune.simulations.study.StudyReport;
import dev.fedprune.simulations.study.StudyRow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code merge --out DIR a/results.json b/results.json ...}: one report from studies run in pieces (for
 * instance parts of one grid run side by side). A later file's row replaces an earlier row of the same setting.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, description = "Join the results.json of study runs into one report.")
final class MergeResultsCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "RESULTS", description = "results.json files written by run, in order.")
    List<Path> results;

    @Option(names = "--out", required = true, description = "Directory for results.json, results.csv, summary.md and report.html.")
    Path out;

    @Option(names = "--title", required = true, description = "Title of the report.")
    String title;

    @Override
    public Integer call() throws Exception {
        List<StudyRow> rows = new ArrayList<>();
        for (Path r : results) {
            if (!Files.isRegularFile(r)) {
                System.err.println("no file " + r);
                return 2;
            }
            rows = StudyReport.merge(rows, StudyReport.read(r));
        }
        StudyReport.write(title, rows, out);
        System.out.println(rows.size() + " rows: " + out.resolve("results.json") + ", " + out.resolve("summary.md") + ", " + out.resolve("report.html"));
        return 0;
    }
}
