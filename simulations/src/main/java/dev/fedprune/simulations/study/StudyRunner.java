package dev.fedprune.simulations.study;

import dev.fedprune.agent.prune.PruneMethods;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.simulations.poisoning.Poisoning;
import dev.fedprune.simulations.scenario.HostCpuLimit;
import dev.fedprune.simulations.scenario.Partitioner;
import dev.fedprune.simulations.scenario.VirtualFederation;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;

/**
 * Runs every setting of a study scenario and measures it: the centralized and local-only baselines
 * directly with the agents' own pruner, and the federated methods through a real coordinator engine
 * and virtual agents over gRPC, each with the job spec its {@link StudyMethod} gives. Local masks are
 * cached across runs that differ only on the server. Results are written after every run, so a long
 * study that is stopped keeps what it measured.
 */
public final class StudyRunner {
    private final StudyScenario scenario;
    private final Path out;
    private final ModelEvaluator evaluator;
    private final MaskEngine engine;
    private final Map<PruneMethod, MaskEngine> agentEngines;
    private final PruneMethod method;
    private final PrintStream console;
    private final List<StudyRow> earlier;
    private final java.util.concurrent.Semaphore cpus = HostCpuLimit.forThisHost();

    public StudyRunner(StudyScenario scenario, Path out, ModelEvaluator evaluator, Map<PruneMethod, MaskEngine> engines,
                       PrintStream console) {
        this(scenario, out, evaluator, engines, console, List.of());
    }

    /**
     * @param earlier rows already in {@code out} that this study's rows join ({@code run --append}); the reports
     *                written after every run hold both, a new row replacing an earlier one of the same setting
     */
    public StudyRunner(StudyScenario scenario, Path out, ModelEvaluator evaluator, Map<PruneMethod, MaskEngine> engines,
                       PrintStream console, List<StudyRow> earlier) {
        this.earlier = List.copyOf(earlier);
        this.scenario = scenario;
        this.out = out;
        this.evaluator = evaluator;
        this.method = PruneMethods.parse(scenario.localPruner());
        MaskEngine base = engines.get(method);
        if (base == null) {
            throw new IllegalArgumentException("localPruner: this build has no " + scenario.localPruner() + " pruner; available: " + engines.keySet());
        }
        Map<PruneMethod, MaskEngine> cached = new java.util.EnumMap<>(PruneMethod.class);
        engines.forEach((m, e) -> cached.put(m, new CachingMaskEngine(e)));
        this.agentEngines = HostCpuLimit.wrap(cached, cpus);
        this.engine = cached.get(method);
        this.console = console;
    }

    public List<StudyRow> run() throws IOException, InterruptedException {
        List<StudyRow> rows = new ArrayList<>();
        int total = plannedRuns();
        int done = 0;
        long started = System.currentTimeMillis();
        int[] nm = pattern();
        // Every partition first, so that an impossible one is refused before anything runs.
        Map<String, List<Path>> partitions = new LinkedHashMap<>();
        for (DataSplit split : scenario.partitions()) {
            for (long seed : scenario.seeds()) {
                for (int agents : scenario.agents()) {
                    partitions.put(key(split, agents, seed), Partitioner.split(scenario.calibration(), agents, split.kind(), split.alpha(),
                            split.minSamples(), seed, out.resolve("partitions").resolve(split.label()).resolve(agents + "-agents-seed-" + seed)));
                }
            }
        }
        for (long seed : scenario.seeds()) {
            for (double sparsity : scenario.sparsities()) {
                if (scenario.runs(StudyMethod.Kind.CENTRALIZED)) {
                    rows.add(report(++done, total, started, centralized(sparsity, seed, nm), rows));
                }
                for (DataSplit split : scenario.partitions()) {
                    for (int agents : scenario.agents()) {
                        List<Path> slices = partitions.get(key(split, agents, seed));
                        if (scenario.runs(StudyMethod.Kind.LOCAL_ONLY)) {
                            rows.add(report(++done, total, started, localOnly(split, slices, sparsity, seed, nm), rows));
                        }
                        for (Poisoning p : scenario.poisoning()) {
                            for (StudyMethod m : scenario.federatedMethods()) {
                                rows.add(report(++done, total, started, federated(m, split, slices, sparsity, seed, p), rows));
                            }
                        }
                    }
                }
            }
        }
        return rows;
    }

    private static String key(DataSplit split, int agents, long seed) {
        return split.label() + "/" + agents + "/" + seed;
    }

    private int plannedRuns() {
        int perSparsity = scenario.runs(StudyMethod.Kind.CENTRALIZED) ? 1 : 0;
        int perAgents = (scenario.runs(StudyMethod.Kind.LOCAL_ONLY) ? 1 : 0) + scenario.federatedMethods().size() * scenario.poisoning().size();
        return scenario.seeds().size() * scenario.sparsities().size()
                * (perSparsity + scenario.partitions().size() * scenario.agents().size() * perAgents);
    }

    private StudyRow report(int done, int total, long started, StudyRow row, List<StudyRow> thisRun) throws IOException {
        console.printf("[%d/%d, %.0f s] %-18s %-13s %-6s scaling=%-5s agents=%-3d sparsity=%.2f seed=%d -> %s ppl %.4f, sparsity %.4f%n",
                done, total, (System.currentTimeMillis() - started) / 1000.0, row.method(), row.partition(), row.comparisonGroup(),
                row.weightScaling(), row.agents(), row.sparsity(), row.seed(), row.state(), row.ppl(), row.actualSparsity());
        List<StudyRow> sofar = new ArrayList<>(thisRun);
        sofar.add(row);
        StudyReport.write(scenario.name(), StudyReport.merge(earlier, sofar), out);
        return row;
    }

    private int[] pattern() {
        if (scenario.pattern().equalsIgnoreCase("unstructured")) {
            return new int[] {0, 0};
        }
        String[] p = scenario.pattern().split(":");
        return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
    }

    private MaskRequest request(Path data, double sparsity, long seed, int[] nm) {
        return new MaskRequest(scenario.model(), data, method, sparsity, scenario.localComparisonGroup().equals("row"), nm[0], nm[1],
                scenario.calibrationSamples(), scenario.sequenceLength(), seed, List.of(), -1, Map.of());
    }

    private StudyRow centralized(double sparsity, long seed, int[] nm) throws IOException {
        long t0 = System.nanoTime();
        Map<String, BitMask> masks = engine.computeMasks(request(scenario.calibration(), sparsity, seed, nm), ProgressListener.NONE);
        long t1 = System.nanoTime();
        Path model = MaskedModel.write(scenario.model(), masks, out.resolve("models").resolve(String.format("centralized-s%.2f-seed%d", sparsity, seed)));
        ModelEvaluator.Evaluation e = evaluate(model);
        long t2 = System.nanoTime();
        return new StudyRow(StudyMethod.CENTRALIZED.name(), "none", scenario.localComparisonGroup(), false, 1, sparsity, scenario.pattern(), seed,
                "COMPLETED", e.perplexity(), e.perCategory(), sparsityOf(masks), layerSparsity(masks), tensorSparsity(masks), 0,
                Map.of("local_prune", (t1 - t0) / 1e9, "evaluate", (t2 - t1) / 1e9), 0, Map.of());
    }

    private StudyRow localOnly(DataSplit split, List<Path> slices, double sparsity, long seed, int[] nm) throws IOException {
        long t0 = System.nanoTime();
        double pplSum = 0;
        Map<String, Double> categorySum = new TreeMap<>();
        double sparsitySum = 0;
        Map<String, Double> layers = new TreeMap<>();
        Map<String, Double> tensors = new TreeMap<>();
        double pruneSeconds = 0;
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < slices.size(); i++) {
            all.add(i);
        }
        int cap = scenario.localOnlyEvaluatedAgents();
        if (cap > 0 && cap < slices.size()) {
            java.util.Collections.shuffle(all, new Random(seed));
        }
        List<Integer> evaluated = cap > 0 && cap < slices.size() ? all.subList(0, cap) : all;
        for (int i : evaluated) {
            long p0 = System.nanoTime();
            Map<String, BitMask> masks = engine.computeMasks(request(slices.get(i), sparsity, seed, nm), ProgressListener.NONE);
            pruneSeconds += (System.nanoTime() - p0) / 1e9;
            Path model = MaskedModel.write(scenario.model(), masks, out.resolve("models").resolve("local-only-agent"));
            ModelEvaluator.Evaluation e = evaluator.evaluate(model, scenario.evaluation());
            pplSum += e.perplexity();
            e.perCategory().forEach((c, v) -> categorySum.merge(c, v, Double::sum));
            sparsitySum += sparsityOf(masks);
            layerSparsity(masks).forEach((l, v) -> layers.merge(l, v / evaluated.size(), Double::sum));
            tensorSparsity(masks).forEach((t, v) -> tensors.merge(t, v / evaluated.size(), Double::sum));
        }
        int n = evaluated.size();
        Map<String, Double> categories = new TreeMap<>();
        categorySum.forEach((c, v) -> categories.put(c, v / n));
        double total = (System.nanoTime() - t0) / 1e9;
        return new StudyRow(StudyMethod.LOCAL_ONLY.name(), split.label(), scenario.localComparisonGroup(), false, slices.size(), sparsity, scenario.pattern(), seed,
                "COMPLETED", pplSum / n, categories, sparsitySum / n, layers, tensors, 0,
                Map.of("local_prune", pruneSeconds, "evaluate", total - pruneSeconds), 0, Map.of());
    }

    private StudyRow federated(StudyMethod m, DataSplit split, List<Path> slices, double sparsity, long seed, Poisoning poisoning)
            throws IOException, InterruptedException {
        int agents = slices.size();
        StudyScenario.Failures f = scenario.failures();
        VirtualFederation.Failure[] failures = assignFailures(agents, f, seed);
        int dropouts = (int) java.util.Arrays.stream(failures).filter(x -> x == VirtualFederation.Failure.DROPOUT).count();
        String jobName = String.format(Locale.ROOT, "%s%s%s-%s-%d-s%.2f", m.name(), m.comparisonGroup().isEmpty() ? "" : "-" + m.comparisonGroup(),
                m.jobSpec().containsKey("weightScaling") ? (m.weightScaling() ? "-scaled" : "-plain") : "", split.label(), agents, sparsity)
                + (poisoning.attack() == Poisoning.Attack.NONE ? "" : "-" + poisoning.label().replace(' ', '-').replace("%", ""));
        int deadline = dropouts > 0 ? Math.max(5, (int) Math.ceil(f.stragglerDelaySeconds()) + 5) : scenario.deadlineSeconds();
        Map<String, Object> spec = scenario.jobSpec(m, jobName, agents, agents - dropouts, deadline, sparsity, seed);
        Path runDir = out.resolve("runs").resolve(spec.get("name") + "-seed" + seed);
        deleteRecursively(runDir);
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        boolean[] malicious = poisoning.forRun(seed).malicious(agents);
        TaskHandlers attack = poisoning.forRun(seed).handlers();
        VirtualFederation.Result r = VirtualFederation.run(runDir, slices, spec, i -> agentEngines, i -> failures[i],
                f.stragglerDelaySeconds(), scenario.model(), quiet, i -> malicious[i] ? attack : null);
        long e0 = System.nanoTime();
        ModelEvaluator.Evaluation e = r.resultDir() == null ? null : evaluate(r.resultDir().resolve("model"));
        double evaluateSeconds = (System.nanoTime() - e0) / 1e9;
        JsonNode report = r.report();
        Map<String, Double> layers = new TreeMap<>();
        Path globalMask = r.resultDir() == null ? null : r.resultDir().resolve("global-mask.safetensors");
        Map<String, Double> tensors = globalMask == null || !Files.isRegularFile(globalMask) ? Map.of() : tensorSparsity(readMaskFile(globalMask));
        double bytesPerAgent = 0;
        int rounds = 0;
        if (report != null) {
            if (report.has("layerSparsity")) {
                report.get("layerSparsity").properties().forEach(x -> layers.put(x.getKey(), x.getValue().asDouble()));
            }
            long bytes = 0;
            for (JsonNode round : report.path("rounds")) {
                rounds++;
                for (JsonNode t : round.path("tasks")) {
                    bytes += t.path("bytesUp").asLong();
                }
            }
            bytesPerAgent = (double) bytes / agents;
        }
        Map<String, Long> failuresSeen = new LinkedHashMap<>(VirtualFederation.failuresSeen(r));
        failuresSeen.put("dropouts_injected", (long) dropouts);
        failuresSeen.put("stragglers_injected", java.util.Arrays.stream(failures).filter(x -> x == VirtualFederation.Failure.STRAGGLER).count());
        failuresSeen.put("crashes_injected", java.util.Arrays.stream(failures).filter(x -> x == VirtualFederation.Failure.CRASH_REJOIN).count());
        Map<String, Double> phases = new LinkedHashMap<>();
        phases.put("federated_job", r.wallMillis() / 1000.0);
        phases.put("evaluate", evaluateSeconds);
        return new StudyRow(m.name(), split.label(), m.comparisonGroup(), m.weightScaling(), agents, sparsity, scenario.pattern(), seed, r.state(),
                e == null ? Double.NaN : e.perplexity(), e == null ? Map.of() : e.perCategory(),
                report == null || !report.has("overallSparsity") ? Double.NaN : report.get("overallSparsity").asDouble(), layers, tensors, bytesPerAgent, phases, rounds, failuresSeen,
                poisoning.label());
    }

    /** Which agents fail how, drawn from the seed; the first agents are never all failing. */
    static VirtualFederation.Failure[] assignFailures(int agents, StudyScenario.Failures f, long seed) {
        VirtualFederation.Failure[] out = new VirtualFederation.Failure[agents];
        java.util.Arrays.fill(out, VirtualFederation.Failure.NONE);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, new Random(seed ^ 0x5EEDL));
        int next = 0;
        int dropouts = (int) Math.floor(agents * f.dropoutFraction());
        int stragglers = (int) Math.floor(agents * f.stragglerFraction());
        for (int i = 0; i < dropouts && next < agents - 1; i++) {
            out[order.get(next++)] = VirtualFederation.Failure.DROPOUT;
        }
        for (int i = 0; i < stragglers && next < agents; i++) {
            out[order.get(next++)] = VirtualFederation.Failure.STRAGGLER;
        }
        for (int i = 0; i < f.crashRejoinAgents() && next < agents; i++) {
            out[order.get(next++)] = VirtualFederation.Failure.CRASH_REJOIN;
        }
        return out;
    }

    private ModelEvaluator.Evaluation evaluate(Path model) throws IOException {
        return evaluator.evaluate(model, scenario.evaluation());
    }

    static double sparsityOf(Map<String, BitMask> masks) {
        long pruned = 0;
        long total = 0;
        for (BitMask m : masks.values()) {
            pruned += m.cardinality();
            total += m.length();
        }
        return total == 0 ? 0 : (double) pruned / total;
    }

    static Map<String, Double> tensorSparsity(Map<String, BitMask> masks) {
        Map<String, Double> out = new TreeMap<>();
        masks.forEach((name, m) -> out.put(name, (double) m.cardinality() / m.length()));
        return out;
    }

    /** The global mask a job wrote: one U8 tensor of packed bits per pruned tensor, weight counts in the metadata. */
    static Map<String, BitMask> readMaskFile(Path file) throws IOException {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (var info : f.tensors().values()) {
                byte[] bytes = new byte[(int) info.byteSize()];
                f.bytes(info.name()).get(bytes);
                masks.put(info.name(), BitMask.fromBytes(Long.parseLong(f.metadata().get("weights." + info.name())), bytes));
            }
        }
        return masks;
    }

    static Map<String, Double> layerSparsity(Map<String, BitMask> masks) {
        Map<Integer, long[]> acc = new TreeMap<>();
        masks.forEach((name, m) -> {
            long[] a = acc.computeIfAbsent(PrunableTensors.layerIndex(name).orElse(-1), k -> new long[2]);
            a[0] += m.cardinality();
            a[1] += m.length();
        });
        Map<String, Double> out = new LinkedHashMap<>();
        acc.forEach((layer, a) -> out.put("layer " + layer, (double) a[0] / a[1]));
        return out;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
