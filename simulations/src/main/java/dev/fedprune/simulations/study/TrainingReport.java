package dev.fedprune.simulations.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes a sparse training study's results in the style of {@link StudyReport}: {@code results.json}
 * (one object per run, with the accuracy per round), {@code results.csv} (one line per run) and a
 * self-contained {@code report.html} (inline SVG charts of test accuracy per round, bytes and memory
 * per agent, and the table; no script, no network).
 */
public final class TrainingReport {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private TrainingReport() {
    }

    public static void write(TrainingScenario scenario, List<TrainingRow> rows, Path out) throws IOException {
        Files.createDirectories(out);
        List<Map<String, Object>> json = new ArrayList<>();
        for (TrainingRow r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("method", r.method());
            m.put("density", r.density());
            m.put("agents", r.agents());
            m.put("rounds", r.rounds());
            m.put("accuracy", finite(r.accuracy()));
            m.put("bytes_up_per_agent", r.bytesUpPerAgent());
            m.put("bytes_down_per_agent", r.bytesDownPerAgent());
            m.put("agent_peak_bytes", r.agentPeakBytes() < 0 ? null : r.agentPeakBytes());
            m.put("seed", r.seed());
            m.put("state", r.state());
            if (r.failureReason() != null) {
                m.put("failure_reason", r.failureReason());
            }
            m.put("actual_density", finite(r.actualDensity()));
            m.put("selected_allocation", r.selectedAllocation());
            m.put("accuracy_per_round", r.accuracyPerRound());
            m.put("agent_memory", r.agentMemory());
            m.put("wall_seconds", r.wallSeconds());
            m.put("agent_seconds_per_round", finite(r.agentSecondsPerRound()));
            m.put("activation_peak_bytes", r.activationPeakBytes());
            m.put("activation_dense_bytes", r.activationDenseBytes());
            m.put("activation_bytes_measured", r.activationBytesMeasured());
            List<Map<String, Object>> adjustments = new ArrayList<>();
            for (TrainingRow.Adjustment a : r.adjustments()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("round", a.round());
                e.put("accuracy_before_prune", finite(a.accuracyBeforePrune()));
                e.put("accuracy_after_prune", finite(a.accuracyAfterPrune()));
                adjustments.add(e);
            }
            m.put("adjustments", adjustments);
            m.put("defence", r.defence());
            m.put("poisoning", r.poisoning());
            json.add(m);
        }
        Files.writeString(out.resolve("results.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
        Files.writeString(out.resolve("results.csv"), csv(rows));
        Files.writeString(out.resolve("report.html"), html(scenario, rows));
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    static String csv(List<TrainingRow> rows) {
        StringBuilder sb = new StringBuilder("method,density,agents,rounds,seed,state,accuracy,actual_density,bytes_up_per_agent,"
                + "bytes_down_per_agent,agent_peak_bytes,top_k_buffer_bytes,wall_seconds,agent_seconds_per_round,"
                + "activation_peak_bytes_max,activation_dense_bytes_max,activation_bytes_measured,prune_accuracy_before_mean,"
                + "prune_accuracy_after_mean,defence,poisoning\n");
        for (TrainingRow r : rows) {
            sb.append(String.format(Locale.ROOT, "%s,%.4f,%d,%d,%d,%s,%.4f,%.4f,%.0f,%.0f,%d,%d,%.1f,%.3f,%s,%s,%s,%s,%s,%s,%s%n", r.method(), r.density(), r.agents(),
                    r.rounds(), r.seed(), r.state(), r.accuracy(), r.actualDensity(), r.bytesUpPerAgent(), r.bytesDownPerAgent(),
                    r.agentPeakBytes(), r.agentMemory().getOrDefault("top_k_buffer_bytes", 0L), r.wallSeconds(), r.agentSecondsPerRound(),
                    r.maxActivationPeakBytes() < 0 ? "" : Long.toString(r.maxActivationPeakBytes()),
                    r.maxActivationDenseBytes() < 0 ? "" : Long.toString(r.maxActivationDenseBytes()),
                    r.activationBytesMeasured() == null ? "" : r.activationBytesMeasured().toString(),
                    cell(meanBeforePrune(r)), cell(meanAfterPrune(r)), r.defence(), r.poisoning()));
        }
        return sb.toString();
    }

    private static String kib(long bytes) {
        return bytes < 0 ? "" : String.format(Locale.ROOT, "%.1f", bytes / 1024.0);
    }

    /** A CSV or table cell of a fraction: empty when there is none. */
    private static String cell(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "";
    }

    /** Mean over the run's adjustment rounds of the agents' accuracy before the prune; NaN without any. */
    static double meanBeforePrune(TrainingRow r) {
        return r.adjustments().stream().mapToDouble(TrainingRow.Adjustment::accuracyBeforePrune).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    /** Mean over the run's adjustment rounds of the agents' accuracy after the prune; NaN without any. */
    static double meanAfterPrune(TrainingRow r) {
        return r.adjustments().stream().mapToDouble(TrainingRow.Adjustment::accuracyAfterPrune).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    /** Colours by method, the same in every chart; FedTiny drawn last, on top. */
    private static final Map<String, String> METHOD_COLORS = Map.of("dense_fedavg", "#7f7f7f", "static_sparse", "#1f77b4",
            "fedtiny_no_abns", "#ff7f0e", "fedtiny_no_progressive", "#2ca02c", "fedtiny", "#d62728", "fedmef_no_bae", "#8c564b",
            "fedmef_no_sap", "#e377c2", "fedmef", "#9467bd");
    private static final List<String> DRAW_ORDER = List.of("dense_fedavg", "static_sparse", "fedtiny_no_abns", "fedtiny_no_progressive", "fedtiny",
            "fedmef_no_bae", "fedmef_no_sap", "fedmef");

    /** Reads the rows of a results.json this class wrote (to redraw a report without running the study again). */
    public static List<TrainingRow> read(Path resultsJson) throws IOException {
        List<TrainingRow> rows = new ArrayList<>();
        for (JsonNode m : JSON.readTree(Files.readString(resultsJson))) {
            List<Double> perRound = new ArrayList<>();
            m.path("accuracy_per_round").forEach(v -> perRound.add(v.asDouble()));
            Map<String, Long> memory = new LinkedHashMap<>();
            m.path("agent_memory").properties().forEach(e -> memory.put(e.getKey(), e.getValue().asLong()));
            // Absent from results.json written before these figures existed: read as empty.
            Map<String, Long> activationPeak = new LinkedHashMap<>();
            m.path("activation_peak_bytes").properties().forEach(e -> activationPeak.put(e.getKey(), e.getValue().asLong()));
            Map<String, Long> activationDense = new LinkedHashMap<>();
            m.path("activation_dense_bytes").properties().forEach(e -> activationDense.put(e.getKey(), e.getValue().asLong()));
            Boolean measured = m.hasNonNull("activation_bytes_measured") ? m.get("activation_bytes_measured").asBoolean() : null;
            List<TrainingRow.Adjustment> adjustments = new ArrayList<>();
            m.path("adjustments").forEach(a -> adjustments.add(new TrainingRow.Adjustment(a.get("round").asInt(), number(a, "accuracy_before_prune"),
                    number(a, "accuracy_after_prune"))));
            rows.add(new TrainingRow(m.get("method").asString(), m.get("density").asDouble(), m.get("agents").asInt(), m.get("rounds").asInt(),
                    m.get("seed").asLong(), m.path("state").asString("COMPLETED"), m.hasNonNull("failure_reason") ? m.get("failure_reason").asString() : null,
                    number(m, "accuracy"), perRound, number(m, "actual_density"),
                    m.hasNonNull("selected_allocation") ? m.get("selected_allocation").asString() : null, number(m, "bytes_up_per_agent"),
                    number(m, "bytes_down_per_agent"), m.hasNonNull("agent_peak_bytes") ? m.get("agent_peak_bytes").asLong() : -1, memory,
                    number(m, "wall_seconds"), number(m, "agent_seconds_per_round"), activationPeak, activationDense, measured, adjustments,
                    m.path("defence").asString("none"), m.path("poisoning").asString("none")));
        }
        return rows;
    }

    private static double number(JsonNode m, String key) {
        return m.hasNonNull(key) ? m.get(key).asDouble() : Double.NaN;
    }

    static String label(TrainingRow r) {
        String label = r.method().equals("dense_fedavg") ? "dense FedAvg" : String.format(Locale.ROOT, "%s d=%.2f", r.method(), r.density());
        boolean attacked = !r.poisoning().equals("none");
        return label + (r.defence().equals("none") && !attacked ? "" : ", defence " + r.defence() + (attacked ? ", " + r.poisoning() : ""));
    }

    static String html(TrainingScenario s, List<TrainingRow> rows) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(StudyReport.esc(s.name())).append("</title><style>")
                .append("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}")
                .append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}")
                .append("th{background:#f3f3f3}td:first-child{text-align:left}h2{margin-top:2em}")
                .append(".legend span{display:inline-block;margin-right:1.2em;font-size:12px}</style></head><body>");
        h.append("<h1>").append(StudyReport.esc(s.name())).append("</h1>");
        h.append(String.format(Locale.ROOT, "<p>%d runs. %d agents; training images split %s; small VGG-style CNN %s; %d rounds of %s "
                        + "(batch %d, learning rate %s, %s); seed %d. Every agent's held-out split is a disjoint IID slice of the test set, so the "
                        + "sample-weighted accuracy of each round is the global model's accuracy on the whole test set; the final accuracy comes "
                        + "from the evaluation round after the last training round.</p>",
                rows.size(), s.agents(), s.partition() == TrainingScenario.Partition.DIRICHLET
                        ? "Dirichlet(alpha " + s.alpha() + ") over labels, at least " + s.minSamples() + " images each" : "IID",
                java.util.Arrays.toString(s.channels()), s.rounds(), s.localTraining(), s.batchSize(), s.learningRate(), s.optimizer(), s.seed()));
        if (s.methods().stream().anyMatch(TrainingScenario.Method::isFedMef)) {
            h.append(String.format(Locale.ROOT, "<p>FedMef methods train the BatchNorm-free NSConv VGG with the same channels; scaled activation "
                    + "pruning ratio %s (fedmef, fedmef_no_bae), budget-aware extrusion coefficient %s (fedmef, fedmef_no_sap).</p>",
                    s.sapGamma(), s.extrusionLambda()));
        }

        List<TrainingRow> drawOrder = new ArrayList<>(rows);
        drawOrder.sort(java.util.Comparator.comparingInt(r -> DRAW_ORDER.indexOf(r.method())));
        for (double d : s.densities()) {
            Map<String, TreeMap<Double, Double>> series = new LinkedHashMap<>();
            Map<String, String> colors = new LinkedHashMap<>();
            for (TrainingRow r : drawOrder) {
                if (r.method().equals("dense_fedavg") || r.density() == d) {
                    colors.put(label(r), METHOD_COLORS.getOrDefault(r.method(), "#000"));
                    TreeMap<Double, Double> points = new TreeMap<>();
                    for (int t = 0; t < r.accuracyPerRound().size(); t++) {
                        points.put((double) t, r.accuracyPerRound().get(t));
                    }
                    if (!points.isEmpty()) {
                        series.put(label(r), points);
                    }
                }
            }
            h.append(String.format(Locale.ROOT, "<h2>Test accuracy per round, density %.2f</h2>", d))
                    .append(StudyReport.lineChart(series, "training rounds completed", "test accuracy", false, colors));
        }

        Map<String, Map<String, Double>> finals = new LinkedHashMap<>();
        Map<String, Map<String, Double>> bytes = new LinkedHashMap<>();
        Map<String, Map<String, Double>> memory = new LinkedHashMap<>();
        for (TrainingRow r : rows) {
            String group = r.method().equals("dense_fedavg") ? "density 1" : String.format(Locale.ROOT, "density %.2f", r.density());
            if (Double.isFinite(r.accuracy())) {
                finals.computeIfAbsent(group, k -> new LinkedHashMap<>()).put(r.method(), r.accuracy());
            }
            bytes.computeIfAbsent("up", k -> new LinkedHashMap<>()).put(label(r), r.bytesUpPerAgent() / 1024);
            bytes.computeIfAbsent("down", k -> new LinkedHashMap<>()).put(label(r), r.bytesDownPerAgent() / 1024);
            if (r.agentPeakBytes() >= 0) {
                memory.computeIfAbsent("peak RSS", k -> new LinkedHashMap<>()).put(label(r), r.agentPeakBytes() / 1048576.0);
            }
        }
        h.append("<h2>Final test accuracy</h2>").append(StudyReport.groupedBars(finals, ""));
        h.append("<h2>Bytes per agent over the job (KiB)</h2>").append(StudyReport.groupedBars(bytes, "KiB"));
        h.append("<h2>Agent memory: peak resident set of one agent's round in a fresh JVM (MiB)</h2>")
                .append(StudyReport.groupedBars(memory, "MiB"));

        Map<String, Map<String, Double>> activations = new LinkedHashMap<>();
        boolean estimated = false;
        for (TrainingRow r : rows) {
            if (r.maxActivationPeakBytes() >= 0) {
                activations.computeIfAbsent("held for backward", k -> new LinkedHashMap<>()).put(label(r), r.maxActivationPeakBytes() / 1048576.0);
            }
            if (r.maxActivationDenseBytes() >= 0) {
                activations.computeIfAbsent("dense cache", k -> new LinkedHashMap<>()).put(label(r), r.maxActivationDenseBytes() / 1048576.0);
            }
            estimated |= Boolean.FALSE.equals(r.activationBytesMeasured());
        }
        if (!activations.isEmpty()) {
            h.append("<h2>Activation memory per training task: peak held for backward and the dense cache of the same model and batch "
                    + "(largest over agents, MiB)</h2>").append(StudyReport.groupedBars(activations, "MiB"));
            h.append(estimated ? "<p>Some figures are estimates from layer shapes (agents training through DJL autograd), not measured "
                    + "from held buffers; see activation_bytes_measured in results.json.</p>" : "<p>All figures measured from the buffers held.</p>");
        }

        h.append("<h2>All runs</h2><table><tr><th>method</th><th>density</th><th>state</th><th>final accuracy</th><th>best round accuracy</th>")
                .append("<th>kept density</th><th>ABNS choice</th><th>KiB up/agent</th><th>KiB down/agent</th><th>agent peak MiB</th>")
                .append("<th>top-K buffer KiB</th><th>s per agent task (with waits)</th><th>wall s</th>")
                .append("<th>activation peak KiB (largest agent)</th><th>dense activations KiB</th>")
                .append("<th>agent accuracy before prune (mean of adjustments)</th><th>after prune</th></tr>");
        for (TrainingRow r : rows) {
            double best = r.accuracyPerRound().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
            h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%.2f</td><td>%s</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%s</td>"
                            + "<td>%.1f</td><td>%.1f</td><td>%s</td><td>%.1f</td><td>%.2f</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
                    StudyReport.esc(r.method()), r.density(), StudyReport.esc(r.state()), r.accuracy(), best, r.actualDensity(),
                    r.selectedAllocation() == null ? "" : StudyReport.esc(r.selectedAllocation()), r.bytesUpPerAgent() / 1024,
                    r.bytesDownPerAgent() / 1024, r.agentPeakBytes() < 0 ? "" : String.format(Locale.ROOT, "%.1f", r.agentPeakBytes() / 1048576.0),
                    r.agentMemory().getOrDefault("top_k_buffer_bytes", 0L) / 1024.0, r.agentSecondsPerRound(), r.wallSeconds(),
                    kib(r.maxActivationPeakBytes()) + (Boolean.FALSE.equals(r.activationBytesMeasured()) ? " (est.)" : ""),
                    kib(r.maxActivationDenseBytes()), cell(meanBeforePrune(r)), cell(meanAfterPrune(r))));
        }
        h.append("</table>");

        if (rows.stream().anyMatch(r -> !r.adjustments().isEmpty())) {
            h.append("<h2>Agents' held-out accuracy of their locally trained model before and after zeroing the weights the server "
                    + "prunes (mean over agents, per adjustment round)</h2><table><tr><th>run</th><th>round</th><th>before prune</th>"
                    + "<th>after prune</th></tr>");
            for (TrainingRow r : rows) {
                for (TrainingRow.Adjustment a : r.adjustments()) {
                    h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>", StudyReport.esc(label(r)), a.round(),
                            cell(a.accuracyBeforePrune()), cell(a.accuracyAfterPrune())));
                }
            }
            h.append("</table>");
        }
        h.append("</body></html>\n");
        return h.toString();
    }
}
