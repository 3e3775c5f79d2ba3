package dev.fedprune.simulations.study;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * A study's results over seeds: for every partition, agent count, sparsity and method variant, the
 * mean perplexity and its sample standard deviation over the seeds, and the mean upload per agent in
 * bytes. Written as {@code summary.md} (tables to paste into a reading) and inside the HTML report.
 */
public final class StudySummary {

    /** One cell: the seeds' mean and sample standard deviation (0 with one seed). */
    public record Cell(double mean, double sd, int n, double bytesPerAgent) {
    }

    private record Setting(String partition, int agents, double sparsity) {
    }

    private final List<String> partitions = new ArrayList<>();
    private final List<String> variants = new ArrayList<>();
    private final Map<Setting, Map<String, Cell>> cells = new LinkedHashMap<>();

    private StudySummary() {
    }

    /**
     * A method's name in the tables: the method, with the server's comparison group and weight scaling
     * added where runs of one method differ on them (the {@code fedprllm_oneshot} shorthand).
     */
    static Map<StudyRow, String> variantNames(List<StudyRow> rows) {
        Map<String, Set<String>> settings = new LinkedHashMap<>();
        for (StudyRow r : rows) {
            settings.computeIfAbsent(r.method(), k -> new LinkedHashSet<>()).add(r.comparisonGroup() + "/" + r.weightScaling());
        }
        Map<StudyRow, String> names = new java.util.IdentityHashMap<>();
        for (StudyRow r : rows) {
            boolean distinguish = settings.get(r.method()).size() > 1;
            names.put(r, distinguish ? r.method() + " " + r.comparisonGroup() + (r.weightScaling() ? " +scaling" : "") : r.method());
        }
        return names;
    }

    public static StudySummary of(List<StudyRow> rows) {
        StudySummary s = new StudySummary();
        Map<StudyRow, String> names = variantNames(rows);
        Map<Setting, Map<String, List<StudyRow>>> grouped = new LinkedHashMap<>();
        TreeSet<Integer> agentCounts = new TreeSet<>();
        for (StudyRow r : rows) {
            if (!r.partition().equals("none") && !s.partitions.contains(r.partition())) {
                s.partitions.add(r.partition());
            }
            if (!s.variants.contains(names.get(r))) {
                s.variants.add(names.get(r));
            }
            if (r.agents() > 1) {
                agentCounts.add(r.agents());
            }
        }
        for (StudyRow r : rows) {
            // Centralized runs on one node: the same figure stands beside every partition and agent count.
            List<String> parts = r.partition().equals("none") ? s.partitions : List.of(r.partition());
            List<Integer> counts = r.partition().equals("none") ? List.copyOf(agentCounts) : List.of(r.agents());
            for (String p : parts) {
                for (int a : counts) {
                    grouped.computeIfAbsent(new Setting(p, a, r.sparsity()), k -> new LinkedHashMap<>())
                            .computeIfAbsent(names.get(r), k -> new ArrayList<>()).add(r);
                }
            }
        }
        List<Setting> order = new ArrayList<>(grouped.keySet());
        order.sort(java.util.Comparator.comparing((Setting x) -> s.partitions.indexOf(x.partition()))
                .thenComparingDouble(Setting::sparsity).thenComparingInt(Setting::agents));
        for (Setting k : order) {
            Map<String, Cell> byVariant = new LinkedHashMap<>();
            grouped.get(k).forEach((variant, list) -> byVariant.put(variant, cell(list)));
            s.cells.put(k, byVariant);
        }
        return s;
    }

    private static Cell cell(List<StudyRow> rows) {
        double[] ppl = rows.stream().mapToDouble(StudyRow::ppl).filter(v -> !Double.isNaN(v)).toArray();
        double mean = java.util.Arrays.stream(ppl).average().orElse(Double.NaN);
        double sd = 0;
        if (ppl.length > 1) {
            double ss = 0;
            for (double v : ppl) {
                ss += (v - mean) * (v - mean);
            }
            sd = Math.sqrt(ss / (ppl.length - 1));
        }
        double bytes = rows.stream().mapToDouble(StudyRow::bytesPerAgent).average().orElse(0);
        return new Cell(mean, sd, ppl.length, bytes);
    }

    public Cell cell(String partition, int agents, double sparsity, String variant) {
        Map<String, Cell> m = cells.get(new Setting(partition, agents, sparsity));
        return m == null ? null : m.get(variant);
    }

    public List<String> partitions() {
        return partitions;
    }

    public List<String> variants() {
        return variants;
    }

    private String fmt(Cell c) {
        if (c == null || c.n() == 0) {
            return "–";
        }
        String v = c.n() > 1 ? String.format(Locale.ROOT, "%.3f ± %.3f", c.mean(), c.sd()) : String.format(Locale.ROOT, "%.3f", c.mean());
        return c.n() < seeds() ? v + " (" + c.n() + " seed" + (c.n() > 1 ? "s" : "") + ")" : v;
    }

    /** The most seeds any cell has: cells with fewer say how many they have. */
    private int seeds() {
        return cells.values().stream().flatMap(m -> m.values().stream()).mapToInt(Cell::n).max().orElse(0);
    }

    /** Settings with a run of their own; the centralized figure alone, copied beside an agent count nobody ran, is no row. */
    private boolean ran(Map<String, Cell> byVariant) {
        return byVariant.keySet().stream().anyMatch(v -> !v.equals("centralized"));
    }

    /** One table of perplexity per partition, then one of bytes uploaded per agent. */
    public String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("Perplexity on the evaluation data, mean ± sample standard deviation over ").append(seeds())
                .append(" seed(s) (lower is better); a cell with fewer seeds says how many.\n");
        for (String p : partitions) {
            md.append("\n**").append(p).append("**\n\n| sparsity | agents |");
            variants.forEach(v -> md.append(' ').append(v).append(" |"));
            md.append("\n|---|---|").append("---|".repeat(variants.size())).append('\n');
            cells.forEach((k, byVariant) -> {
                if (!k.partition().equals(p) || !ran(byVariant)) {
                    return;
                }
                md.append(String.format(Locale.ROOT, "| %.0f%% | %d |", k.sparsity() * 100, k.agents()));
                variants.forEach(v -> md.append(' ').append(fmt(byVariant.get(v))).append(" |"));
                md.append('\n');
            });
        }
        List<String> federated = variants.stream().filter(v -> cells.values().stream()
                .anyMatch(m -> m.get(v) != null && m.get(v).bytesPerAgent() > 0)).toList();
        if (!federated.isEmpty()) {
            md.append("\nUpload per agent, in bytes (mean over agents and seeds)\n\n| partition | sparsity | agents |");
            federated.forEach(v -> md.append(' ').append(v).append(" |"));
            md.append("\n|---|---|---|").append("---|".repeat(federated.size())).append('\n');
            cells.forEach((k, byVariant) -> {
                if (!ran(byVariant)) {
                    return;
                }
                md.append(String.format(Locale.ROOT, "| %s | %.0f%% | %d |", k.partition(), k.sparsity() * 100, k.agents()));
                federated.forEach(v -> {
                    Cell c = byVariant.get(v);
                    md.append(' ').append(c == null ? "–" : String.format(Locale.ROOT, "%d", Math.round(c.bytesPerAgent()))).append(" |");
                });
                md.append('\n');
            });
        }
        return md.toString();
    }

    /** The perplexity tables as HTML, for the report. */
    public String html() {
        StringBuilder h = new StringBuilder();
        for (String p : partitions) {
            h.append("<h3>").append(StudyReport.esc(p)).append("</h3><table><tr><th>sparsity</th><th>agents</th>");
            variants.forEach(v -> h.append("<th>").append(StudyReport.esc(v)).append("</th>"));
            h.append("</tr>");
            cells.forEach((k, byVariant) -> {
                if (!Objects.equals(k.partition(), p) || !ran(byVariant)) {
                    return;
                }
                h.append(String.format(Locale.ROOT, "<tr><td>%.0f%%</td><td>%d</td>", k.sparsity() * 100, k.agents()));
                variants.forEach(v -> h.append("<td>").append(fmt(byVariant.get(v))).append("</td>"));
                h.append("</tr>");
            });
            h.append("</table>");
        }
        return h.toString();
    }
}
