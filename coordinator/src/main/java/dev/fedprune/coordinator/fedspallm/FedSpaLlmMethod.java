package dev.fedprune.coordinator.fedspallm;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.spallm.LayerPlan;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.job.FedSpaLlmSpec;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.method.GlobalMaskFile;
import dev.fedprune.coordinator.method.HfModelDirectory;
import dev.fedprune.coordinator.method.MethodContext;
import dev.fedprune.coordinator.method.PrunedCheckpoint;
import dev.fedprune.coordinator.method.SpecProvider;
import dev.fedprune.coordinator.round.AgentView;
import dev.fedprune.coordinator.round.JobMethod;
import dev.fedprune.coordinator.round.MethodReport;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.proto.v1.PruneTaskSpec;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import tools.jackson.databind.json.JsonMapper;

/**
 * FedSpaLLM on the coordinator (Bai et al., NAACL 2025; algorithms.md 1.14), one round: each selected
 * agent is sent the decoder layers its reported memory holds ({@link LayerAssignment}), prunes them with
 * SparseGPT on its own data and returns them as sparse tensors (kept weights with their reconstructed
 * values); the coordinator averages each weight over the agents that kept it, prunes what every agent
 * pruned and then the most-pruned weights until each comparison group meets the target exactly
 * ({@link L0Round}), and writes the pruned model in the checkpoint's layout and dtypes. Unlike FedPrLLM
 * the result changes kept weights, so agents cannot rebuild it from masks: the job has no evaluation round.
 */
public final class FedSpaLlmMethod implements JobMethod {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String ROUND_DIR = "rounds/0";

    private final FedSpaLlmSpec spec;
    private final long seed;
    private final ModelManifest manifest;
    private final dev.fedprune.proto.v1.ModelManifest wireManifest;
    private final Path modelDir;
    private final Path roundDir;
    private final LayerAssignment layers;
    private L0Round round;

    /** Registers FedSpaLLM ({@code method: fedspallm}) with the engine. */
    public static final class Provider extends SpecProvider<FedSpaLlmSpec> {
        public Provider() {
            super(FedSpaLlmSpec.NAME, FedSpaLlmSpec.class, FedSpaLlmSpec.FIELDS, FedSpaLlmSpec::parse, FedSpaLlmSpec::write);
        }

        @Override
        public void checkInputs(JobSpec job, FedSpaLlmSpec spec) {
            HfModelDirectory.check(spec.modelPath());
        }

        @Override
        public String describe(JobSpec job, FedSpaLlmSpec spec) {
            return "FedSpaLLM, sparsegpt locally, sparsity " + spec.sparsityRatio() + " met per "
                    + spec.comparisonGroup().name().toLowerCase(Locale.ROOT) + ", every layer pruned by at least " + spec.minLayerCoverage()
                    + " of " + job.agentsPerRound() + " agents";
        }

        @Override
        public JobMethod create(MethodContext<FedSpaLlmSpec> context) throws IOException {
            Path modelDir = Path.of(context.spec().modelPath());
            return new FedSpaLlmMethod(context.spec(), context.job().seed(), HfModelDirectory.load(modelDir, context.artifacts()), modelDir,
                    context.jobDir());
        }
    }

    public FedSpaLlmMethod(FedSpaLlmSpec spec, long seed, HfModelDirectory.Loaded model, Path modelDir, Path jobDir) {
        this.spec = spec;
        this.seed = seed;
        this.manifest = model.manifest();
        this.wireManifest = model.wire();
        this.modelDir = modelDir;
        this.roundDir = jobDir.resolve(ROUND_DIR);
        this.layers = new LayerAssignment(manifest, spec.minLayerCoverage(), seed, roundDir.resolve("plan.json"));
    }

    @Override
    public ModelManifest manifest() {
        return manifest;
    }

    @Override
    public dev.fedprune.proto.v1.ModelManifest wireManifest() {
        return wireManifest;
    }

    @Override
    public int totalRounds() {
        return 1;
    }

    /** The round's task without layers: its kind, and the spec every agent shares. */
    @Override
    public Task.Builder taskTemplate(int roundIndex) {
        return Task.newBuilder().setKind(TaskKind.TASK_KIND_SPARSE_LAYERS).setPrune(PruneTaskSpec.newBuilder()
                .setMethod(PruneMethod.PRUNE_METHOD_SPARSEGPT)
                .setSparsityRatio(spec.sparsityRatio())
                .setCalibrationSamples(spec.calibrationSamples())
                .setSequenceLength(spec.sequenceLength())
                .setSeed(seed));
    }

    /** The agent's task: the round's, with the decoder layers (and their tensors) the plan gave it. */
    @Override
    public Task.Builder taskTemplate(int roundIndex, AgentView agent) {
        Task.Builder task = taskTemplate(roundIndex);
        try {
            for (int layer : layers.current().layersOf(agent.id())) {
                task.getPruneBuilder().addLayerIndices(layer);
                layers.tensorsOf(layer).forEach(t -> task.getPruneBuilder().addTensorNames(t.name()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the round's layer plan", e);
        }
        return task;
    }

    /** Plans which agent prunes which layers, sized to each one's memory; refuses the round when they cannot cover every layer. */
    @Override
    public void openRound(int roundIndex, List<AgentView> agents) {
        try {
            layers.plan(agents);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the round's layer plan", e);
        }
        openRound(roundIndex);
    }

    @Override
    public void openRound(int roundIndex) {
        round = new L0Round(layers, spec.sparsityRatio(), spec.sparsityTolerance());
    }

    @Override
    public boolean handOver(int roundIndex, AgentView failed, AgentView spare) {
        try {
            return layers.handOver(failed, spare);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the round's layer plan", e);
        }
    }

    @Override
    public void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException {
        round.fold(layers.current(), agentId, contribution.message());
    }

    /** At most every prunable weight kept: a 5-byte varint index and an F32 value each, plus framing. */
    @Override
    public long maxContributionBytes(int roundIndex) {
        long bytes = 64 * 1024;
        for (ModelManifest.TensorEntry t : layers.allTensors()) {
            bytes += 9 * t.elementCount() + 256;
        }
        return bytes;
    }

    @Override
    public RoundSummary closeRound(int roundIndex, StoredContributions stored) throws IOException {
        Files.createDirectories(roundDir);
        Map<String, L0Round.TensorOutcome> outcomes = new LinkedHashMap<>();
        Map<String, BitMask> masks = round.close(manifest, spec.comparisonGroup(), roundDir.resolve("pruned.safetensors"), outcomes);
        GlobalMaskFile.write(roundDir.resolve("global-mask.safetensors"), masks);
        Files.writeString(roundDir.resolve("outcomes.json"), JSON.writeValueAsString(outcomes));
        LayerPlan plan = layers.current();
        Map<String, Double> sparsity = new LinkedHashMap<>();
        outcomes.forEach((name, o) -> sparsity.put(name, (double) o.prunedCount() / o.weightCount()));
        LayerSummary summary = new LayerSummary(round.folded(), plan.coverage(), layers.bytesPerLayer(), sparsity,
                outcomes.values().stream().mapToLong(o -> o.prunedCount() - o.targetPrunedCount()).sum());
        int agents = round.folded().size();
        round = null;
        return RoundSummary.of(agents, summary);
    }

    /**
     * The round: the layers each agent returned, how many agents the plan gave each layer, what one layer
     * costs an agent, the sparsity of each tensor, and the weights pruned beyond the target (0 unless some
     * group's weights pruned by every agent alone exceeded it).
     */
    public record LayerSummary(Map<String, List<Integer>> layersByAgent, List<Integer> layerCoverage, long bytesPerLayer,
                               Map<String, Double> sparsity, long excessPrunedWeights) implements RoundSummary.Detail {
        @Override
        public LayerSummary withAgentNames(UnaryOperator<String> nameOf) {
            Map<String, List<Integer>> byName = new TreeMap<>();
            layersByAgent.forEach((id, l) -> byName.put(nameOf.apply(id), l));
            return new LayerSummary(byName, layerCoverage, bytesPerLayer, sparsity, excessPrunedWeights);
        }
    }

    /** Everything the closed round produced is in the job directory; nothing is held in memory. */
    @Override
    public void restoreClosedRounds(int closedRounds) {
    }

    @Override
    public FedSpaLlmReport finish(Path resultDir) throws IOException {
        PrunedCheckpoint.write(modelDir, List.of(roundDir.resolve("pruned.safetensors")), resultDir.resolve("model"));
        Files.copy(roundDir.resolve("global-mask.safetensors"), resultDir.resolve("global-mask.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        Map<String, L0Round.TensorOutcome> outcomes = JSON.readValue(Files.readString(roundDir.resolve("outcomes.json")),
                JSON.getTypeFactory().constructMapType(LinkedHashMap.class, String.class, L0Round.TensorOutcome.class));
        Map<String, long[]> perLayer = new TreeMap<>((a, b) -> Integer.compare(layerOf(a), layerOf(b)));
        long[] totals = new long[3];
        outcomes.forEach((name, o) -> {
            long[] acc = perLayer.computeIfAbsent("layer " + PrunableTensors.layerIndex(name).orElseThrow(), k -> new long[2]);
            acc[0] += o.prunedCount();
            acc[1] += o.weightCount();
            totals[0] += o.prunedCount();
            totals[1] += o.weightCount();
            totals[2] += o.targetPrunedCount();
        });
        Map<String, Double> layerSparsity = new LinkedHashMap<>();
        perLayer.forEach((layer, acc) -> layerSparsity.put(layer, (double) acc[0] / acc[1]));
        return new FedSpaLlmReport(totals[1] == 0 ? 0.0 : (double) totals[0] / totals[1], layerSparsity, totals[0], totals[1], totals[2],
                spec.comparisonGroup().name().toLowerCase(Locale.ROOT));
    }

    private static int layerOf(String label) {
        return Integer.parseInt(label.substring("layer ".length()));
    }

    /**
     * The pruned model's sparsity overall and per decoder layer; {@code targetPrunedWeights} is what mask
     * expansion aimed at (the sum of {@code (int) (n * sparsity)} over the comparison groups).
     */
    public record FedSpaLlmReport(double overallSparsity, Map<String, Double> layerSparsity, long prunedWeights, long prunableWeights,
                                  long targetPrunedWeights, String comparisonGroup) implements MethodReport {
    }
}
