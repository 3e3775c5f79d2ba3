package dev.fedprune.simulations.study;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.LabelPartitioner;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.simulations.scenario.VirtualFederation;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs a {@link TrainingScenario}: splits the training set between the agents (Dirichlet over labels
 * or IID) and the test set into disjoint IID slices, one per agent, as their held-out splits; then one
 * federated sparse training job per (method, density) with a real coordinator and the agents over
 * loopback gRPC, and, per run, one agent's round in a fresh JVM for its memory.
 */
public final class TrainingStudyRunner {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final TrainingScenario scenario;
    private final Path out;
    private final Path work;
    private final PrintStream console;

    /**
     * @param out  where results.json, results.csv and report.html go
     * @param work where the agents' data, coordinators and agents of every run go (partition.json too)
     */
    public TrainingStudyRunner(TrainingScenario scenario, Path out, Path work, PrintStream console) {
        this.scenario = scenario;
        this.out = out;
        this.work = work;
        this.console = console;
    }

    /** Writes every agent's IDX directory under {@code out/data}; returns them in agent order. */
    public List<Path> partition() throws IOException {
        LabeledImages train = FashionMnist.load(scenario.data(), FashionMnist.Split.TRAIN);
        LabeledImages test = FashionMnist.load(scenario.data(), FashionMnist.Split.TEST);
        int n = scenario.agents();
        List<int[]> parts = scenario.partition() == TrainingScenario.Partition.DIRICHLET
                ? LabelPartitioner.dirichlet(train.labelArray(), train.classCount(), n, scenario.alpha(), scenario.minSamples(), scenario.seed())
                : LabelPartitioner.iid(train.size(), n, scenario.minSamples(), scenario.seed());
        List<int[]> heldOut = LabelPartitioner.iid(test.size(), n, 1, scenario.seed() + 1);
        List<Path> dirs = new ArrayList<>();
        List<Map<String, Object>> summary = new ArrayList<>();
        for (int a = 0; a < n; a++) {
            Path dir = work.resolve("data").resolve(String.format("agent-%03d", a));
            IdxWriter.write(dir, FashionMnist.Split.TRAIN, train, parts.get(a));
            IdxWriter.write(dir, FashionMnist.Split.TEST, test, heldOut.get(a));
            dirs.add(dir);
            int[] perClass = new int[train.classCount()];
            for (int i : parts.get(a)) {
                perClass[train.label(i)]++;
            }
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("agent", a);
            s.put("train_images", parts.get(a).length);
            s.put("train_images_per_class", perClass);
            s.put("held_out_images", heldOut.get(a).length);
            summary.add(s);
        }
        Files.writeString(work.resolve("partition.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(summary));
        console.printf(Locale.ROOT, "partition: %d agents, %s of %d training images (%s), held-out %d test images in IID slices%n", n,
                scenario.partition().name().toLowerCase(Locale.ROOT), train.size(),
                scenario.partition() == TrainingScenario.Partition.DIRICHLET
                        ? "alpha " + scenario.alpha() + ", at least " + scenario.minSamples() + " each" : "iid", test.size());
        for (Map<String, Object> s : summary) {
            console.printf(Locale.ROOT, "  agent %s: %s training images, per class %s; %s held-out%n", s.get("agent"), s.get("train_images"),
                    java.util.Arrays.toString((int[]) s.get("train_images_per_class")), s.get("held_out_images"));
        }
        return dirs;
    }

    public List<TrainingRow> run() throws IOException, InterruptedException {
        Files.createDirectories(out);
        Files.createDirectories(work);
        List<Path> slices = partition();
        List<TrainingScenario.Run> runs = scenario.runs();
        List<TrainingRow> rows = new ArrayList<>();
        long started = System.nanoTime();
        for (int i = 0; i < runs.size(); i++) {
            TrainingScenario.Run run = runs.get(i);
            String label = run.directoryName();
            double elapsed = (System.nanoTime() - started) / 1e9;
            String eta = i == 0 ? "" : String.format(Locale.ROOT, ", about %.0f min left", elapsed / i * (runs.size() - i) / 60);
            console.printf(Locale.ROOT, "=== run %d/%d: %s (%d rounds x %s, %d agents; %.0f min so far%s)%n", i + 1, runs.size(), label,
                    scenario.rounds(), scenario.localTraining(), scenario.agents(), elapsed / 60, eta);
            Path runDir = work.resolve("runs").resolve(run.directoryName());
            boolean[] malicious = run.poisoning().malicious(slices.size());
            TaskHandlers attack = run.poisoning().handlers();
            VirtualFederation.Result r = VirtualFederation.run(runDir, slices, scenario.jobSpec(run), a -> Map.of(),
                    a -> VirtualFederation.Failure.NONE, 0, null, new RoundProgress(console), a -> malicious[a] ? attack : null);
            writeTasks(runDir, r);
            TrainingRow row = row(run, r, slices.get(0));
            rows.add(row);
            console.printf(Locale.ROOT, "=== %s: %s, final accuracy %.4f, density %.4f, %.1f KiB up per agent, agent peak %.1f MiB, %.0f s%n", label,
                    row.state(), row.accuracy(), row.actualDensity(), row.bytesUpPerAgent() / 1024, row.agentPeakBytes() / 1048576.0, row.wallSeconds());
            TrainingReport.write(scenario, rows, out); // after every run, so that a cut-short study still leaves its results
        }
        return rows;
    }

    private TrainingRow row(TrainingScenario.Run run, VirtualFederation.Result r, Path probeData) throws IOException, InterruptedException {
        List<Double> perRound = new ArrayList<>();
        double accuracy = Double.NaN;
        Map<String, Integer> largestTopK = new LinkedHashMap<>();
        long largestTopKTotal = 0;
        Map<Integer, Integer> trainingRounds = new LinkedHashMap<>(); // engine round index -> training round t
        for (RoundRecord round : r.rounds()) {
            if (round.summary() == null) {
                continue;
            }
            JsonNode s = JSON.readTree(round.summary());
            String phase = s.path("phase").asString("");
            if (phase.equals("training") && s.hasNonNull("trainingRound")) {
                trainingRounds.put(round.roundIndex(), s.get("trainingRound").asInt());
            }
            if (phase.equals("training") && s.hasNonNull("priorAccuracy")) {
                perRound.add(s.get("priorAccuracy").asDouble());
                if (s.has("adjusted")) {
                    Map<String, Integer> k = new LinkedHashMap<>();
                    s.get("adjusted").properties().forEach(e -> k.put(e.getKey(), e.getValue().asInt()));
                    long total = k.values().stream().mapToLong(Integer::longValue).sum();
                    if (total > largestTopKTotal) {
                        largestTopKTotal = total;
                        largestTopK = k;
                    }
                }
            } else if (phase.equals("evaluation") && s.hasNonNull("accuracy")) {
                accuracy = s.get("accuracy").asDouble();
                perRound.add(accuracy);
            }
        }
        int agents = scenario.agents();
        long bytesUp = 0;
        double bytesDown = 0;
        double trainSeconds = 0;
        int trainTasks = 0;
        double topKBuffer = 0;
        for (TaskRecord t : r.tasks()) {
            bytesUp += t.bytesUp();
            Map<String, Double> m = r.metrics().getOrDefault(t.id(), Map.of());
            bytesDown += m.getOrDefault("model_bytes_down", m.getOrDefault("bytes_down", 0.0)); // the name before and after the dashboard's
            if (m.containsKey("train_loss")) {
                trainSeconds += m.getOrDefault("compute_seconds", 0.0);
                trainTasks++;
            }
            topKBuffer = Math.max(topKBuffer, m.getOrDefault("top_k_buffer_bytes", 0.0));
        }
        ActivationFigures activations = activationFigures(r, trainingRounds);
        Map<String, Long> memory = new LinkedHashMap<>();
        memory.put("top_k_buffer_bytes", (long) topKBuffer);
        long peak = -1;
        if (scenario.memoryProbe() && r.resultDir() != null) {
            Map<String, Long> probe = probe(r.resultDir(), probeData, largestTopK, run.method().prunesActivations() ? scenario.sapGamma() : 0);
            memory.putAll(probe);
            peak = probe.getOrDefault("vm_hwm_bytes", -1L);
        }
        double density = r.report() == null ? Double.NaN : r.report().path("density").asDouble(Double.NaN);
        String allocation = r.report() == null || !r.report().has("selectedAllocation") ? null : r.report().get("selectedAllocation").asString();
        return new TrainingRow(run.method().label(), run.density(), agents, scenario.rounds(), scenario.seed(), r.state(), r.failureReason(),
                accuracy, perRound, density, allocation, (double) bytesUp / agents, bytesDown / agents, peak, memory, r.wallMillis() / 1000.0,
                trainTasks == 0 ? Double.NaN : trainSeconds / trainTasks, activations.peak(), activations.dense(), activations.measured(),
                activations.adjustments(), run.defence().name(), run.poisoning().label());
    }

    /** What the agents reported about activation memory and pruning accuracy, gathered for one row. */
    record ActivationFigures(Map<String, Long> peak, Map<String, Long> dense, Boolean measured, List<TrainingRow.Adjustment> adjustments) {
    }

    /**
     * From the agents' task metrics: per agent the largest {@code activation_peak_bytes} and
     * {@code activation_dense_bytes} of its tasks; whether all of them were measured
     * ({@code activation_bytes_measured} 1) rather than estimated (null when none were reported); and per
     * round with {@code prune_accuracy_before}/{@code _after} their means over the agents that reported
     * them. Tasks without these metrics (older agents, methods without them) are skipped.
     *
     * @param trainingRounds engine round index to training round {@code t} (rounds not in it keep their index)
     */
    static ActivationFigures activationFigures(VirtualFederation.Result r, Map<Integer, Integer> trainingRounds) {
        Map<String, Long> peak = new java.util.TreeMap<>();
        Map<String, Long> dense = new java.util.TreeMap<>();
        Boolean measured = null;
        java.util.TreeMap<Integer, double[]> prune = new java.util.TreeMap<>(); // round -> {sum before, n before, sum after, n after}
        for (TaskRecord t : r.tasks()) {
            Map<String, Double> m = r.metrics().getOrDefault(t.id(), Map.of());
            Double p = m.get("activation_peak_bytes");
            if (p != null && Double.isFinite(p)) {
                peak.merge(t.agentId(), Math.round(p), Math::max);
            }
            Double d = m.get("activation_dense_bytes");
            if (d != null && Double.isFinite(d)) {
                dense.merge(t.agentId(), Math.round(d), Math::max);
            }
            Double flag = m.get("activation_bytes_measured");
            if (flag != null) {
                measured = (measured == null || measured) && flag == 1.0;
            } else if (p != null || d != null) {
                measured = false; // a figure without the flag: not known to be measured
            }
            Double before = m.get("prune_accuracy_before");
            Double after = m.get("prune_accuracy_after");
            boolean hasBefore = before != null && Double.isFinite(before);
            boolean hasAfter = after != null && Double.isFinite(after);
            if (hasBefore || hasAfter) {
                double[] acc = prune.computeIfAbsent(trainingRounds.getOrDefault(t.roundIndex(), t.roundIndex()), k -> new double[4]);
                if (hasBefore) {
                    acc[0] += before;
                    acc[1]++;
                }
                if (hasAfter) {
                    acc[2] += after;
                    acc[3]++;
                }
            }
        }
        List<TrainingRow.Adjustment> adjustments = new ArrayList<>();
        prune.forEach((round, acc) -> adjustments.add(new TrainingRow.Adjustment(round, acc[1] == 0 ? Double.NaN : acc[0] / acc[1],
                acc[3] == 0 ? Double.NaN : acc[2] / acc[3])));
        return new ActivationFigures(peak, dense, measured, adjustments);
    }

    /** Every task of a run with what its agent reported, for audit: {@code tasks.json} beside the run's coordinator. */
    private static void writeTasks(Path runDir, VirtualFederation.Result r) throws IOException {
        List<Map<String, Object>> tasks = new ArrayList<>();
        for (TaskRecord t : r.tasks()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("round", t.roundIndex());
            m.put("agent", t.agentId());
            m.put("kind", t.kind());
            m.put("state", t.state());
            m.put("bytes_up", t.bytesUp());
            m.put("metrics", r.metrics().getOrDefault(t.id(), Map.of()));
            tasks.add(m);
        }
        Files.writeString(runDir.resolve("tasks.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tasks));
    }

    /** One agent's round in a fresh JVM; see {@link AgentMemoryProbe}. */
    private Map<String, Long> probe(Path resultDir, Path data, Map<String, Integer> topK, double sapGamma) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-Dfedprune.probe.sapGamma=" + sapGamma,
                "-cp", System.getProperty("java.class.path"), AgentMemoryProbe.class.getName(), resultDir.toString(), data.toString(),
                String.valueOf(scenario.localSteps()), String.valueOf(scenario.batchSize()), String.valueOf(scenario.learningRate()),
                String.valueOf(scenario.seed())));
        if (!topK.isEmpty()) {
            command.add(JSON.writeValueAsString(topK));
        }
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            console.println("memory probe failed: " + stdout.strip());
            return Map.of();
        }
        String last = stdout.strip().lines().reduce((a, b) -> b).orElse("{}");
        Map<String, Long> out = new LinkedHashMap<>();
        JSON.readTree(last).properties().forEach(e -> out.put(e.getKey(), e.getValue().asLong()));
        return out;
    }

    /** The engine's events, shortened to one line per closed round with the accuracy it recorded. */
    private static final class RoundProgress extends PrintStream {
        private final PrintStream console;
        private final long started = System.nanoTime();

        RoundProgress(PrintStream console) {
            super(java.io.OutputStream.nullOutputStream());
            this.console = console;
        }

        @Override
        public void println(String line) {
            if (line.contains(" aggregated from ") || line.contains("] completed: ") || line.contains("] failed: ")
                    || line.contains("refused contribution")) {
                console.printf(Locale.ROOT, "  [%5.0f s] %s%n", (System.nanoTime() - started) / 1e9, line.length() > 200 ? line.substring(0, 200) + "..." : line);
            }
        }
    }
}
