package dev.fedprune.simulations.study;

import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.method.MethodRegistry;
import dev.fedprune.simulations.poisoning.Poisoning;
import dev.fedprune.simulations.study.StudyScenario.ScenarioException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.json.JsonMapper;

/**
 * A federated sparse training study: one image dataset split between virtual agents, and the methods
 * and densities to compare, trained with the same schedule. Every key is checked before anything
 * runs; errors name the file, the line and the field. Lists may be given as a single value.
 *
 * <pre>
 * name: FedTiny on Fashion-MNIST
 * data: /usr/share/datasets/fashion-mnist   # train-* and t10k-* IDX files
 * agents: 10
 * partition: {kind: dirichlet, alpha: 0.5, minSamples: 100}   # of the training set; or iid
 * methods: [dense_fedavg, static_sparse, fedtiny, fedtiny_no_abns, fedtiny_no_progressive]   # or fedmef, fedmef_no_bae, fedmef_no_sap
 * densities: [0.1, 0.02]       # dense_fedavg runs once, at density 1
 * channels: [16, 32, 64]       # the small VGG-style CNN (FedMef methods: the same channels as NSConv VGG, without BatchNorm)
 * rounds: 40
 * localSteps: 20               # or localEpochs: 1 (passes over each agent's images per round; replaces localSteps)
 * batchSize: 32
 * learningRate: 0.05
 * momentum: 0.9                # SGD momentum, 0 by default; weightDecay: 5e-4 likewise
 * adjustAlpha: 0.2
 * adjustInterval: 5
 * adjustStopRound: 30
 * blocks: 2                    # progressive schedule of fedtiny and fedtiny_no_abns
 * candidates: 5                # ABNS pool of fedtiny and fedtiny_no_progressive
 * sapGamma: 0.5                # FedMef's SAP ratio, for fedmef and fedmef_no_bae
 * extrusionLambda: 0.01        # FedMef's BaE coefficient, for fedmef and fedmef_no_sap
 * seed: 0
 * deadlineSeconds: 1800
 * memoryProbe: true            # measure one agent's round per run in a fresh JVM
 * defences:                    # robust aggregation to compare (default: none, plain FedAvg); each run once per defence
 *   - none
 *   - {name: median, robustAggregation: {rule: median}}
 * poisoning:                   # malicious agents (default: none); each run once per setting, see PoisoningSettings
 *   - {attack: scaled_update, factor: 10, fraction: [0.1, 0.3]}
 * </pre>
 *
 * <p>Every agent's held-out split is a disjoint IID slice of the whole test set (10,000 Fashion-MNIST
 * images in slices of 1,000 for 10 agents), so the sample-weighted accuracy the coordinator records
 * per round is the global model's accuracy on the whole test set.
 */
public record TrainingScenario(String name, Path data, int agents, Partition partition, double alpha, int minSamples,
                               List<Method> methods, List<Double> densities, int[] channels, int rounds, int localSteps,
                               int batchSize, double learningRate, double adjustAlpha, int adjustInterval, int adjustStopRound,
                               int blocks, int candidates, long seed, int deadlineSeconds, boolean memoryProbe, double sapGamma,
                               double extrusionLambda, int localEpochs, double momentum, double weightDecay,
                               List<Defence> defences, List<Poisoning> poisoning) {

    public TrainingScenario {
        channels = channels.clone();
        methods = List.copyOf(methods);
        densities = List.copyOf(densities);
        defences = List.copyOf(defences);
        poisoning = List.copyOf(poisoning);
    }

    /**
     * A robust aggregation a study compares, by name.
     *
     * @param robustAggregation the job spec's {@code robustAggregation} block; null for plain FedAvg
     */
    public record Defence(String name, Map<String, Object> robustAggregation) {
        public static final Defence NONE = new Defence("none", null);
    }

    @Override
    public int[] channels() {
        return channels.clone();
    }

    /** How the training set is split. */
    public enum Partition { IID, DIRICHLET }

    /** The variants of a sparse training job this study compares (the names of results.json). */
    public enum Method {
        DENSE_FEDAVG, STATIC_SPARSE, FEDTINY, FEDTINY_NO_ABNS, FEDTINY_NO_PROGRESSIVE, FEDMEF, FEDMEF_NO_BAE, FEDMEF_NO_SAP;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        boolean selectsCandidate() {
            return this == FEDTINY || this == FEDTINY_NO_PROGRESSIVE;
        }

        boolean adjustsMask() {
            return this != DENSE_FEDAVG && this != STATIC_SPARSE;
        }

        /** FedMef and its ablations: trained on the BatchNorm-free NSConv VGG. */
        boolean isFedMef() {
            return this == FEDMEF || this == FEDMEF_NO_BAE || this == FEDMEF_NO_SAP;
        }

        /** Takes the scenario's sapGamma. */
        boolean prunesActivations() {
            return this == FEDMEF || this == FEDMEF_NO_BAE;
        }

        /** Takes the scenario's extrusionLambda. */
        boolean extrudes() {
            return this == FEDMEF || this == FEDMEF_NO_SAP;
        }

        boolean progressive() {
            return this == FEDTINY || this == FEDTINY_NO_ABNS;
        }
    }

    /** How a round's local training is counted, for reports: "1 local epoch" or "20 local SGD steps". */
    public String localTraining() {
        return localEpochs > 0 ? localEpochs + " local epoch" + (localEpochs == 1 ? "" : "s") : localSteps + " local SGD steps";
    }

    /** The optimiser, for reports: "SGD" or "SGD, momentum 0.9, weight decay 0.0005". */
    public String optimizer() {
        return "SGD" + (momentum > 0 ? ", momentum " + momentum : "") + (weightDecay > 0 ? ", weight decay " + weightDecay : "");
    }

    /** One job of the study. */
    public record Run(Method method, double density, Defence defence, Poisoning poisoning) {
        /** Without defence or malicious agents. */
        public Run(Method method, double density) {
            this(method, density, Defence.NONE, Poisoning.NONE);
        }

        /** For run directories: {@code fedtiny-d0.10}, {@code fedtiny-d0.10-median-sign_flip-30}. */
        public String directoryName() {
            String base = method.label() + (method == Method.DENSE_FEDAVG ? "" : String.format(Locale.ROOT, "-d%.2f", density));
            boolean attacked = poisoning.attack() != Poisoning.Attack.NONE;
            return base + (defence.equals(Defence.NONE) && !attacked ? "" : "-" + defence.name()
                    + (attacked ? "-" + poisoning.label().replace(' ', '-').replace("%", "") : ""));
        }
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Set<String> KEYS = Set.of("name", "data", "agents", "partition", "methods", "densities", "density",
            "channels", "rounds", "localSteps", "batchSize", "learningRate", "adjustAlpha", "adjustInterval", "adjustStopRound",
            "blocks", "candidates", "seed", "deadlineSeconds", "memoryProbe", "sapGamma", "extrusionLambda",
            "localEpochs", "momentum", "weightDecay", "defences", "poisoning");
    private static final Set<String> PARTITION_KEYS = Set.of("kind", "alpha", "minSamples");
    private static final String[] DATA_FILES = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz"};

    /**
     * The jobs in the order they run: the sparse methods at the first density in the listed order, then
     * dense FedAvg once (density 1), then the sparse methods at each further density; a study cut short
     * still holds complete comparisons at the first density.
     */
    public List<Run> runs() {
        List<Run> plain = new ArrayList<>();
        for (int i = 0; i < densities.size(); i++) {
            for (Method m : methods) {
                if (m != Method.DENSE_FEDAVG) {
                    plain.add(new Run(m, densities.get(i)));
                }
            }
            if (i == 0 && methods.contains(Method.DENSE_FEDAVG)) {
                plain.add(new Run(Method.DENSE_FEDAVG, 1.0));
            }
        }
        // Every (method, density) under every malicious setting, each with every defence.
        List<Run> runs = new ArrayList<>();
        for (Run r : plain) {
            for (Poisoning p : poisoning) {
                for (Defence d : defences) {
                    runs.add(new Run(r.method(), r.density(), d, p));
                }
            }
        }
        return runs;
    }

    /** The job spec of one run (method: sparse_training), as the coordinator's parser reads it. */
    public Map<String, Object> jobSpec(Run run) {
        Map<String, Object> spec = new java.util.LinkedHashMap<>();
        spec.put("name", name + " " + run.directoryName());
        spec.put("method", "sparse_training");
        spec.put("variant", run.method().label());
        spec.put("architecture", run.method().isFedMef() ? "nsconv_vgg" : "small_vgg");
        spec.put("channels", java.util.Arrays.stream(channels).boxed().toList());
        if (run.method() != Method.DENSE_FEDAVG) {
            spec.put("density", run.density());
        }
        spec.put("rounds", rounds);
        if (localEpochs > 0) {
            spec.put("localEpochs", localEpochs);
        } else {
            spec.put("localSteps", localSteps);
        }
        spec.put("batchSize", batchSize);
        spec.put("learningRate", learningRate);
        spec.put("momentum", momentum);
        spec.put("weightDecay", weightDecay);
        spec.put("adjustAlpha", adjustAlpha);
        spec.put("adjustInterval", adjustInterval);
        spec.put("adjustStopRound", adjustStopRound);
        if (run.method().progressive()) {
            spec.put("blocks", blocks);
        }
        if (run.method().selectsCandidate()) {
            spec.put("candidates", candidates);
        }
        if (run.method().extrudes()) {
            spec.put("extrusionLambda", extrusionLambda);
        }
        if (run.method().prunesActivations()) {
            spec.put("sapGamma", sapGamma);
        }
        spec.put("evaluationImages", 0); // every held-out image: the slices add up to the whole test set
        if (run.defence().robustAggregation() != null) {
            spec.put("robustAggregation", run.defence().robustAggregation());
        }
        spec.put("agentsPerRound", agents);
        spec.put("quorum", agents);
        spec.put("deadlineSeconds", deadlineSeconds);
        spec.put("waitForAgentsSeconds", 120);
        spec.put("seed", seed);
        return spec;
    }

    /** Parses and validates; every error names the file, the line and the field. */
    public static TrainingScenario load(Path file) throws IOException {
        String text = Files.readString(file);
        Map<String, Integer> lines = ScenarioYaml.keyLines(file, text);
        Map<?, ?> raw = ScenarioYaml.readMapping(file, text);
        ScenarioFields f = new ScenarioFields(file, lines, raw);
        f.checkKeys("", KEYS);
        Path base = file.toAbsolutePath().getParent();

        String name = f.string("name", "training study");
        if (!f.has("data")) {
            throw f.error("data", "required: a directory of Fashion-MNIST IDX files (" + String.join(", ", DATA_FILES) + ")");
        }
        Path data = base.resolve(String.valueOf(raw.get("data"))).normalize();
        for (String needed : DATA_FILES) {
            Path gz = data.resolve(needed);
            if (!Files.isRegularFile(gz) && !Files.isRegularFile(data.resolve(needed.substring(0, needed.length() - 3)))) {
                throw f.error("data", "no " + gz + (Files.isDirectory(data) ? "" : " (no directory " + data + ")")
                        + "; on Debian: apt-get install dataset-fashion-mnist");
            }
        }
        int agents = f.intValue("agents", raw.containsKey("agents") ? raw.get("agents") : 10, 1, 10_000);

        Partition partition = Partition.IID;
        double alpha = 0.5;
        int minSamples = 1;
        Object p = raw.get("partition");
        if (p instanceof Map<?, ?> pm) {
            ScenarioFields pf = new ScenarioFields(file, lines, pm).nested("partition");
            pf.checkKeys("partition.", PARTITION_KEYS);
            partition = pf.enumValue("kind", Partition.class, "iid");
            alpha = pf.number("alpha", 0.5);
            if (!(alpha > 0) || Double.isInfinite(alpha)) {
                throw pf.error("alpha", "must be a finite number > 0, got " + pm.get("alpha"));
            }
            minSamples = pm.containsKey("minSamples") ? pf.intValue("minSamples", pm.get("minSamples"), 1, 1_000_000) : 1;
        } else if (p != null) {
            partition = f.enumValue("partition", Partition.class, "iid");
        }

        List<Method> methods = f.list("methods", List.of("fedtiny")).stream()
                .map(v -> f.parseEnum("methods", String.valueOf(v), Method.class)).distinct().toList();
        String densityKey = f.has("densities") ? "densities" : "density";
        List<Double> densities = f.list(densityKey, List.of(0.1)).stream().map(v -> {
            double d = f.doubleValue(densityKey, v);
            if (!(d > 0 && d <= 1)) {
                throw f.error(densityKey, "each density must be in (0, 1], got " + v);
            }
            return d;
        }).distinct().toList();
        if (methods.stream().allMatch(m -> m == Method.DENSE_FEDAVG) && f.has(densityKey)) {
            throw f.error(densityKey, "only dense_fedavg is listed, which trains at density 1; leave densities out or add a sparse method");
        }
        List<Object> channelValues = f.list("channels", List.of(16, 32, 64));
        int[] channels = new int[channelValues.size()];
        for (int i = 0; i < channels.length; i++) {
            channels[i] = f.intValue("channels", channelValues.get(i), 1, 4096);
        }
        int rounds = whole(f, raw, "rounds", 1, 1_000_000, 20);
        if (raw.containsKey("localSteps") && raw.containsKey("localEpochs")) {
            throw f.error("localEpochs", "give either localSteps (mini-batches per round) or localEpochs (passes over each agent's images), not both");
        }
        int localSteps = whole(f, raw, "localSteps", 1, 1_000_000, 20);
        int localEpochs = whole(f, raw, "localEpochs", 1, 10_000, 0);
        double momentum = f.number("momentum", 0);
        if (!(momentum >= 0 && momentum < 1)) {
            throw f.error("momentum", "expected SGD momentum in [0, 1) (0 = plain SGD), got " + raw.get("momentum"));
        }
        double weightDecay = f.number("weightDecay", 0);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw f.error("weightDecay", "expected a finite number >= 0 (0 = no weight decay), got " + raw.get("weightDecay"));
        }
        int batchSize = whole(f, raw, "batchSize", 1, 65_536, 32);
        double learningRate = f.number("learningRate", 0.05);
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw f.error("learningRate", "expected a finite number > 0, got " + raw.get("learningRate"));
        }
        double adjustAlpha = f.number("adjustAlpha", 0.2);
        if (!(adjustAlpha > 0 && adjustAlpha <= 1)) {
            throw f.error("adjustAlpha", "expected a fraction in (0, 1], got " + raw.get("adjustAlpha"));
        }
        int adjustInterval = whole(f, raw, "adjustInterval", 1, 1_000_000, Math.max(1, rounds / 8));
        int adjustStopRound = whole(f, raw, "adjustStopRound", 1, 1_000_000, Math.max(1, rounds * 3 / 4));
        int blocks = whole(f, raw, "blocks", 1, 10_000, 2);
        int candidates = whole(f, raw, "candidates", 1, 1000, 5);
        long seed = (long) f.number("seed", 0);
        int deadline = whole(f, raw, "deadlineSeconds", 1, 7 * 24 * 3600, 1800);
        boolean memoryProbe = true;
        if (raw.containsKey("memoryProbe")) {
            if (!(raw.get("memoryProbe") instanceof Boolean b)) {
                throw f.error("memoryProbe", "expected true or false, got '" + raw.get("memoryProbe") + "'");
            }
            memoryProbe = b;
        }
        double sapGamma = f.number("sapGamma", 0.5);
        if (!(sapGamma >= 0 && sapGamma < 1)) {
            throw f.error("sapGamma", "expected a fraction in [0, 1) of each cached activation to drop (0 = no activation pruning), got "
                    + raw.get("sapGamma"));
        }
        double extrusionLambda = f.number("extrusionLambda", 0.01);
        if (!(extrusionLambda > 0) || Double.isInfinite(extrusionLambda)) {
            throw f.error("extrusionLambda", "expected a finite number > 0 (fedmef_no_bae is the run without extrusion), got "
                    + raw.get("extrusionLambda"));
        }
        List<Defence> defences = defences(f, file, lines, raw);
        List<Poisoning> poisoning = PoisoningSettings.parse(f, file, lines, raw, seed);
        TrainingScenario scenario = new TrainingScenario(name, data, agents, partition, alpha, minSamples, methods, densities, channels,
                rounds, localSteps, batchSize, learningRate, adjustAlpha, adjustInterval, adjustStopRound, blocks, candidates, seed, deadline,
                memoryProbe, sapGamma, extrusionLambda, localEpochs, momentum, weightDecay, defences, poisoning);
        // The coordinator's own checks (blocks per layer, image size per pooling block, ...), before anything runs.
        for (Run run : scenario.runs()) {
            try {
                MethodRegistry.checkInputs(JobSpecParser.parse(JSON.writeValueAsString(scenario.jobSpec(run))));
            } catch (InvalidJobSpecException e) {
                String field = e.field().equals("density") ? densityKey : e.field().startsWith("robustAggregation") ? "defences" : e.field();
                throw f.error(KEYS.contains(field) ? field : "methods", run.method().label() + (field.equals("defences")
                        ? " with defence " + run.defence().name() : "") + ": " + e.getMessage());
            }
        }
        return scenario;
    }

    /** {@code defences}: {@code none} or {@code {name, robustAggregation: {...}}} mappings, each name once; default none. */
    private static List<Defence> defences(ScenarioFields f, Path file, Map<String, Integer> lines, Map<?, ?> raw) {
        List<Defence> out = new ArrayList<>();
        List<Object> values = f.list("defences", List.of("none"));
        for (int i = 0; i < values.size(); i++) {
            String where = raw.get("defences") instanceof List<?> ? "defences[" + i + "]" : "defences";
            Defence d;
            if (values.get(i) instanceof Map<?, ?> dm) {
                ScenarioFields df = new ScenarioFields(file, lines, dm).nested(where);
                df.checkKeys(where + ".", Set.of("name", "robustAggregation"));
                String name = df.string("name", null);
                if (name == null || !name.matches("[a-z0-9][a-z0-9_.-]*") || !(dm.get("robustAggregation") instanceof Map<?, ?> block)) {
                    throw df.error(name == null || !name.matches("[a-z0-9][a-z0-9_.-]*") ? "name" : "robustAggregation",
                            "each defence needs a name (lower-case letters, digits, '_', '-', '.') and a robustAggregation mapping, got " + dm);
                }
                Map<String, Object> copy = new java.util.LinkedHashMap<>();
                block.forEach((k, v) -> copy.put(String.valueOf(k), v));
                d = new Defence(name, copy);
            } else if (String.valueOf(values.get(i)).equals("none")) {
                d = Defence.NONE;
            } else {
                throw f.error(where, "expected none or {name: ..., robustAggregation: {...}}, got '" + values.get(i) + "'");
            }
            if (out.stream().anyMatch(o -> o.name().equals(d.name()))) {
                throw f.error(where, "defence " + d.name() + " is listed twice");
            }
            out.add(d);
        }
        return out;
    }

    private static int whole(ScenarioFields f, Map<?, ?> raw, String key, int min, int max, int fallback) {
        return raw.containsKey(key) ? f.intValue(key, raw.get(key), min, max) : fallback;
    }
}
