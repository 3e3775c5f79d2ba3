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
import java.util.TreeSet;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes a study's results: {@code results.json} (one object per row), {@code results.csv},
 * {@code summary.md} (mean ± spread over seeds) and a self-contained {@code report.html} (inline SVG
 * charts and the tables; no script, no network). Upload sizes are in bytes.
 */
public final class StudyReport {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    static final String[] COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf", "#393b79", "#637939"};

    private StudyReport() {
    }

    public static void write(String title, List<StudyRow> rows, Path out) throws IOException {
        Files.createDirectories(out);
        List<Map<String, Object>> json = new ArrayList<>();
        for (StudyRow r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("method", r.method());
            m.put("partition", r.partition());
            m.put("comparison_group", r.comparisonGroup());
            m.put("weight_scaling", r.weightScaling());
            m.put("agents", r.agents());
            m.put("sparsity", r.sparsity());
            m.put("pattern", r.pattern());
            m.put("seed", r.seed());
            m.put("state", r.state());
            m.put("ppl", Double.isNaN(r.ppl()) ? null : r.ppl());
            m.put("actual_sparsity", Double.isNaN(r.actualSparsity()) ? null : r.actualSparsity());
            m.put("bytes_per_agent", Math.round(r.bytesPerAgent()));
            m.put("rounds", r.rounds());
            m.put("phase_seconds", r.phaseSeconds());
            m.put("failures", r.failures());
            m.put("ppl_by_category", r.pplByCategory());
            m.put("layer_sparsity", r.layerSparsity());
            m.put("tensor_sparsity", r.tensorSparsity());
            m.put("poisoning", r.poisoning());
            json.add(m);
        }
        Files.writeString(out.resolve("results.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json));
        Files.writeString(out.resolve("results.csv"), csv(rows));
        Files.writeString(out.resolve("summary.md"), "# " + title + "\n\n" + StudySummary.of(rows).markdown());
        Files.writeString(out.resolve("report.html"), html(title, rows));
    }

    /** The rows of a results.json this class wrote (files from before partitions were recorded read as {@code iid}). */
    public static List<StudyRow> read(Path resultsJson) throws IOException {
        List<StudyRow> rows = new ArrayList<>();
        for (JsonNode n : JSON.readTree(Files.readString(resultsJson))) {
            String method = n.path("method").asString();
            rows.add(new StudyRow(method, n.path("partition").asString(method.equals("centralized") ? "none" : "iid"),
                    n.path("comparison_group").asString(""), n.path("weight_scaling").asBoolean(), n.path("agents").asInt(),
                    n.path("sparsity").asDouble(), n.path("pattern").asString("unstructured"), n.path("seed").asLong(), n.path("state").asString(),
                    number(n.get("ppl")), doubles(n.path("ppl_by_category")), number(n.get("actual_sparsity")), doubles(n.path("layer_sparsity")),
                    doubles(n.path("tensor_sparsity")), n.path("bytes_per_agent").asDouble(), doubles(n.path("phase_seconds")),
                    n.path("rounds").asInt(), longs(n.path("failures")), n.path("poisoning").asString("none")));
        }
        return rows;
    }

    /**
     * {@code earlier} with {@code added} in: a row of {@code added} replaces an earlier row of the same setting
     * (method, partition, comparison group, scaling, agents, sparsity, pattern, seed, poisoning); new settings go at the end.
     */
    public static List<StudyRow> merge(List<StudyRow> earlier, List<StudyRow> added) {
        Map<List<Object>, StudyRow> bySetting = new LinkedHashMap<>();
        for (StudyRow r : earlier) {
            bySetting.put(setting(r), r);
        }
        for (StudyRow r : added) {
            bySetting.put(setting(r), r);
        }
        return new ArrayList<>(bySetting.values());
    }

    private static List<Object> setting(StudyRow r) {
        return List.of(r.method(), r.partition(), r.comparisonGroup(), r.weightScaling(), r.agents(), r.sparsity(), r.pattern(), r.seed(),
                r.poisoning());
    }

    private static double number(JsonNode n) {
        return n == null || n.isNull() ? Double.NaN : n.asDouble();
    }

    private static Map<String, Double> doubles(JsonNode n) {
        Map<String, Double> out = new LinkedHashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asDouble()));
        return out;
    }

    private static Map<String, Long> longs(JsonNode n) {
        Map<String, Long> out = new LinkedHashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asLong()));
        return out;
    }

    static String csv(List<StudyRow> rows) {
        StringBuilder sb = new StringBuilder("method,partition,comparison_group,weight_scaling,agents,sparsity,pattern,seed,state,ppl,actual_sparsity,bytes_per_agent,rounds,seconds,poisoning\n");
        for (StudyRow r : rows) {
            double seconds = r.phaseSeconds().values().stream().mapToDouble(Double::doubleValue).sum();
            sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%d,%.4f,%s,%d,%s,%.6f,%.6f,%d,%d,%.2f,%s%n", r.method(), r.partition(),
                    r.comparisonGroup(), r.weightScaling(), r.agents(), r.sparsity(), r.pattern(), r.seed(), r.state(), r.ppl(),
                    r.actualSparsity(), Math.round(r.bytesPerAgent()), r.rounds(), seconds, r.poisoning()));
        }
        return sb.toString();
    }

    /** A run's series in the charts: the method variant, its agents and, where the study has several, its partition. */
    private static String label(StudyRow r, Map<StudyRow, String> variants, boolean manyPartitions) {
        if (r.method().equals("centralized")) {
            return "centralized";
        }
        String v = variants.get(r).replace("fedprllm_", "FedPrLLM ").replace("local_only", "local-only");
        return v + " (" + (manyPartitions ? r.partition() + ", " : "") + r.agents() + " agents"
                + (r.poisoning().equals("none") ? "" : ", " + r.poisoning() + " malicious") + ")";
    }

    static String html(String title, List<StudyRow> rows) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(esc(title)).append("</title><style>")
                .append("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}")
                .append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}")
                .append("th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}h2{margin-top:2em}")
                .append(".legend span{display:inline-block;margin-right:1.2em;font-size:12px}</style></head><body>");
        h.append("<h1>").append(esc(title)).append("</h1>");
        h.append("<p>").append(rows.size()).append(" runs. Perplexity on the evaluation data (lower is better); local-only is the mean over the agents' own models.</p>");
        Map<StudyRow, String> variants = StudySummary.variantNames(rows);
        boolean manyPartitions = rows.stream().map(StudyRow::partition).filter(p -> !p.equals("none")).distinct().count() > 1;
        boolean manySeeds = rows.stream().mapToLong(StudyRow::seed).distinct().count() > 1;

        h.append("<h2>Mean perplexity over seeds</h2>").append(StudySummary.of(rows).html());

        // Perplexity vs sparsity, one line per setting (the mean over seeds).
        Map<String, TreeMap<Double, double[]>> sums = new LinkedHashMap<>();
        for (StudyRow r : rows) {
            if (!Double.isNaN(r.ppl())) {
                double[] acc = sums.computeIfAbsent(label(r, variants, manyPartitions), k -> new TreeMap<>()).computeIfAbsent(r.sparsity(), k -> new double[2]);
                acc[0] += r.ppl();
                acc[1]++;
            }
        }
        Map<String, TreeMap<Double, Double>> series = new LinkedHashMap<>();
        sums.forEach((k, m) -> {
            TreeMap<Double, Double> points = new TreeMap<>();
            m.forEach((x, acc) -> points.put(x, acc[0] / acc[1]));
            series.put(k, points);
        });
        h.append("<h2>Perplexity vs sparsity").append(manySeeds ? " (mean over seeds)" : "").append("</h2>")
                .append(lineChart(series, "sparsity", "perplexity (log scale)", true));

        // Per-layer sparsity of the federated runs at the highest sparsity.
        Map<String, Map<String, Double>> layers = new LinkedHashMap<>();
        double top = rows.stream().mapToDouble(StudyRow::sparsity).max().orElse(0);
        long firstSeed = rows.isEmpty() ? 0 : rows.get(0).seed();
        for (StudyRow r : rows) {
            if (r.sparsity() == top && r.seed() == firstSeed && !r.layerSparsity().isEmpty()) {
                layers.put(label(r, variants, manyPartitions), r.layerSparsity());
            }
        }
        h.append("<h2>Per-layer sparsity at ").append(String.format(Locale.ROOT, "%.0f%%", top * 100))
                .append(manySeeds ? ", seed " + firstSeed : "").append("</h2>").append(groupedBars(layers, "sparsity"));

        // Bytes per agent of the federated runs (first seed).
        Map<String, Map<String, Double>> bytes = new LinkedHashMap<>();
        for (StudyRow r : rows) {
            if (r.bytesPerAgent() > 0 && !r.weightScaling() && r.seed() == firstSeed) {
                bytes.computeIfAbsent(String.format(Locale.ROOT, "%.0f%%", r.sparsity() * 100), k -> new LinkedHashMap<>())
                        .put(variants.get(r).replace("fedprllm_", "") + (manyPartitions ? " " + r.partition() : "") + " " + r.agents() + "a",
                                r.bytesPerAgent() / 1024);
            }
        }
        h.append("<h2>Upload per agent (KiB = 1024 bytes)").append(manySeeds ? ", seed " + firstSeed : "").append("</h2>")
                .append(groupedBars(bytes, "KiB"));

        h.append("<h2>All runs</h2><table><tr><th>method</th><th>partition</th><th>group</th><th>scaling</th><th>agents</th><th>sparsity</th><th>seed</th>")
                .append("<th>state</th><th>ppl</th><th>actual sparsity</th><th>bytes/agent</th><th>rounds</th><th>seconds</th></tr>");
        for (StudyRow r : rows) {
            double seconds = r.phaseSeconds().values().stream().mapToDouble(Double::doubleValue).sum();
            h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%.2f</td><td>%d</td><td>%s</td><td>%.4f</td><td>%.4f</td><td>%d</td><td>%d</td><td>%.1f</td></tr>",
                    esc(r.method()), esc(r.partition()), esc(r.comparisonGroup()), r.weightScaling() ? "on" : "off", r.agents(), r.sparsity(), r.seed(),
                    esc(r.state()), r.ppl(), r.actualSparsity(), Math.round(r.bytesPerAgent()), r.rounds(), seconds));
        }
        h.append("</table></body></html>\n");
        return h.toString();
    }

    static String lineChart(Map<String, TreeMap<Double, Double>> series, String xLabel, String yLabel, boolean logY) {
        return lineChart(series, xLabel, yLabel, logY, Map.of());
    }

    /** @param colors the colour of a series by its name; the others take the palette in order */
    static String lineChart(Map<String, TreeMap<Double, Double>> series, String xLabel, String yLabel, boolean logY, Map<String, String> colors) {
        if (series.isEmpty()) {
            return "<p>no data</p>";
        }
        int w = 760;
        int hgt = 380;
        int left = 70;
        int right = 20;
        int topPad = 20;
        int bottom = 50;
        TreeSet<Double> xs = new TreeSet<>();
        double yMin = Double.MAX_VALUE;
        double yMax = -Double.MAX_VALUE;
        for (TreeMap<Double, Double> s : series.values()) {
            xs.addAll(s.keySet());
            for (double y : s.values()) {
                double v = logY ? Math.log10(y) : y;
                yMin = Math.min(yMin, v);
                yMax = Math.max(yMax, v);
            }
        }
        if (yMax - yMin < 1e-9) {
            yMax = yMin + 1;
        }
        double xMin = xs.first();
        double xMax = xs.size() > 1 ? xs.last() : xMin + 1;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"11\">", w, hgt));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", left, hgt - bottom, w - right, hgt - bottom));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", left, topPad, left, hgt - bottom));
        boolean whole = xs.stream().allMatch(x -> x == Math.rint(x));
        int every = (int) Math.ceil(xs.size() / 20.0); // at most about 20 labels
        int n = 0;
        for (double x : xs) {
            if (n++ % every != 0) {
                continue;
            }
            double px = left + (x - xMin) / (xMax - xMin) * (w - left - right);
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">" + (whole ? "%.0f" : "%.2f") + "</text>",
                    px, hgt - bottom + 15, x));
        }
        for (int i = 0; i <= 4; i++) {
            double v = yMin + (yMax - yMin) * i / 4;
            double py = hgt - bottom - (double) i / 4 * (hgt - bottom - topPad);
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>", left - 5, py + 4, logY ? Math.pow(10, v) : v));
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>", left, py, w - right, py));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>", (left + w - right) / 2, hgt - 12, esc(xLabel)));
        svg.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">%s</text>", hgt / 2, hgt / 2, esc(yLabel)));
        StringBuilder legend = new StringBuilder("<div class=\"legend\">");
        int c = 0;
        for (Map.Entry<String, TreeMap<Double, Double>> s : series.entrySet()) {
            String color = colors.getOrDefault(s.getKey(), COLORS[c % COLORS.length]);
            c++;
            StringBuilder points = new StringBuilder();
            for (Map.Entry<Double, Double> p : s.getValue().entrySet()) {
                double px = left + (p.getKey() - xMin) / (xMax - xMin) * (w - left - right);
                double v = logY ? Math.log10(p.getValue()) : p.getValue();
                double py = hgt - bottom - (v - yMin) / (yMax - yMin) * (hgt - bottom - topPad);
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
                svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s: %.4f</title></circle>",
                        px, py, color, esc(s.getKey()), p.getValue()));
            }
            svg.append(String.format(Locale.ROOT, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>", points.toString().trim(), color));
            legend.append("<span style=\"color:").append(color).append("\">&#9632; ").append(esc(s.getKey())).append("</span>");
        }
        svg.append("</svg>");
        return svg + legend.append("</div>").toString();
    }

    static String groupedBars(Map<String, Map<String, Double>> groups, String unit) {
        if (groups.isEmpty()) {
            return "<p>no data</p>";
        }
        TreeSet<String> categories = new TreeSet<>();
        groups.values().forEach(m -> categories.addAll(m.keySet()));
        double max = groups.values().stream().flatMap(m -> m.values().stream()).mapToDouble(Double::doubleValue).max().orElse(1);
        int barH = 12;
        int rowsCount = groups.size() * categories.size();
        int w = 760;
        int labelW = 320;
        int hgt = rowsCount * (barH + 3) + groups.size() * 8 + 10;
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"11\">", w, hgt));
        int y = 5;
        int c = 0;
        for (Map.Entry<String, Map<String, Double>> g : groups.entrySet()) {
            String color = COLORS[c++ % COLORS.length];
            for (String cat : categories) {
                Double v = g.getValue().get(cat);
                if (v == null) {
                    continue;
                }
                double len = max <= 0 ? 0 : v / max * (w - labelW - 80);
                svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s · %s</text>", labelW - 5, y + barH - 2, esc(g.getKey()), esc(cat)));
                svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", labelW, y, len, barH, color));
                svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%.4g %s</text>", labelW + len + 4, y + barH - 2, v, esc(unit)));
                y += barH + 3;
            }
            y += 8;
        }
        return svg.append("</svg>").toString().replace(String.format(Locale.ROOT, "height=\"%d\"", hgt), String.format(Locale.ROOT, "height=\"%d\"", y + 5));
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
