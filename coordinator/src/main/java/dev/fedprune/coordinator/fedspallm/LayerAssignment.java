package dev.fedprune.coordinator.fedspallm;

import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.spallm.LayerPlan;
import dev.fedprune.aggregation.spallm.LayerSampler;
import dev.fedprune.aggregation.spallm.LayerSampling;
import dev.fedprune.aggregation.spallm.LayerSamplingRefusal;
import dev.fedprune.coordinator.round.AgentView;
import dev.fedprune.coordinator.round.RoundRefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * FedSpaLLM's layer sampling on the coordinator: the model's decoder layers and their prunable tensors,
 * what one layer costs an agent, and the round's plan of which agent prunes which layers
 * ({@link LayerSampler} over the agents the engine selected, sized to the memory each reported). The plan
 * is kept in the job directory so that a restarted coordinator folds the open round against the same plan.
 */
final class LayerAssignment {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Prunable tensors by decoder layer, in layer order and manifest order within a layer. */
    private final SortedMap<Integer, List<ModelManifest.TensorEntry>> layers = new TreeMap<>();
    private final long bytesPerLayer;
    private final int minCoverage;
    private final long seed;
    private final Path planFile;
    private LayerPlan plan;

    LayerAssignment(ModelManifest manifest, int minCoverage, long seed, Path planFile) {
        for (ModelManifest.TensorEntry t : manifest.prunableTensors()) {
            layers.computeIfAbsent(PrunableTensors.layerIndex(t.name()).orElseThrow(), l -> new ArrayList<>()).add(t);
        }
        if (layers.isEmpty() || layers.firstKey() != 0 || layers.lastKey() != layers.size() - 1) {
            throw new IllegalArgumentException("the model's prunable tensors cover decoder layers " + layers.keySet() + ", not 0..N-1");
        }
        this.bytesPerLayer = layers.values().stream().mapToLong(LayerAssignment::layerBytes).max().orElseThrow();
        this.minCoverage = minCoverage;
        this.seed = seed;
        this.planFile = planFile;
    }

    /**
     * What one decoder layer needs on an agent while SparseGPT prunes it: its prunable matrices as F32 and one
     * F32 {@code d_in x d_in} inverse-Hessian factor per matrix (an upper bound: q/k/v and gate/up share theirs).
     */
    private static long layerBytes(List<ModelManifest.TensorEntry> tensors) {
        long bytes = 0;
        for (ModelManifest.TensorEntry t : tensors) {
            long cols = t.shape()[t.shape().length - 1];
            bytes += 4 * (t.elementCount() + cols * cols);
        }
        return bytes;
    }

    int layerCount() {
        return layers.size();
    }

    long bytesPerLayer() {
        return bytesPerLayer;
    }

    List<ModelManifest.TensorEntry> tensorsOf(int layer) {
        return layers.get(layer);
    }

    List<ModelManifest.TensorEntry> allTensors() {
        return layers.values().stream().flatMap(List::stream).toList();
    }

    /**
     * The memory budget the sampler sizes an agent's share by: what it reported, or, when it reported none,
     * enough for every layer (an agent that says nothing is not assumed to hold nothing).
     */
    private long budget(AgentView agent) {
        return agent.reportedMemory() ? agent.memoryBytes() : bytesPerLayer * layers.size();
    }

    /**
     * Plans the round over the selected agents, or refuses it naming the layers they cannot cover. The sampler
     * sees agents by name (by name and id where two share a name), so that a refusal names them as operators do.
     */
    void plan(List<AgentView> agents) throws IOException {
        Map<String, Long> budgets = new LinkedHashMap<>();
        Map<String, String> idOfLabel = new LinkedHashMap<>();
        for (AgentView a : agents) {
            boolean shared = agents.stream().filter(b -> b.name().equals(a.name())).count() > 1;
            String label = shared ? a.name() + " (" + a.id() + ")" : a.name();
            budgets.put(label, budget(a));
            idOfLabel.put(label, a.id());
        }
        LayerSampling sampling = LayerSampler.plan(layers.size(), budgets, bytesPerLayer, minCoverage, seed);
        if (sampling instanceof LayerSamplingRefusal refusal) {
            throw new RoundRefusedException("layer sampling: " + refusal.reason() + " (minLayerCoverage " + minCoverage + ")");
        }
        LayerPlan byLabel = (LayerPlan) sampling;
        SortedMap<String, List<Integer>> byId = new TreeMap<>();
        byLabel.layersByAgent().forEach((label, assigned) -> byId.put(idOfLabel.get(label), assigned));
        save(new LayerPlan(byLabel.layerCount(), byLabel.minCoverage(), byLabel.seed(), byId, byLabel.coverage()));
    }

    /**
     * Moves a failed agent's layers to a spare whose budget holds them all; false, with the plan unchanged,
     * when it cannot (or already has layers this round).
     */
    boolean handOver(AgentView failed, AgentView spare) throws IOException {
        List<Integer> work = current().layersOf(failed.id());
        if (work.isEmpty() || !current().layersOf(spare.id()).isEmpty() || budget(spare) / bytesPerLayer < work.size()) {
            return false;
        }
        SortedMap<String, List<Integer>> moved = new TreeMap<>(plan.layersByAgent());
        moved.remove(failed.id());
        moved.put(spare.id(), work);
        save(new LayerPlan(plan.layerCount(), plan.minCoverage(), plan.seed(), moved, plan.coverage()));
        return true;
    }

    /** The round's plan, read back from the job directory after a restart. */
    LayerPlan current() throws IOException {
        if (plan == null) {
            JsonNode stored = JSON.readTree(Files.readString(planFile));
            SortedMap<String, List<Integer>> byAgent = new TreeMap<>();
            stored.get("layersByAgent").properties().forEach(e -> {
                List<Integer> assigned = new ArrayList<>();
                e.getValue().forEach(l -> assigned.add(l.asInt()));
                byAgent.put(e.getKey(), assigned);
            });
            List<Integer> coverage = new ArrayList<>();
            stored.get("coverage").forEach(c -> coverage.add(c.asInt()));
            plan = new LayerPlan(stored.get("layerCount").asInt(), stored.get("minCoverage").asInt(), stored.get("seed").asLong(),
                    byAgent, coverage);
        }
        return plan;
    }

    private void save(LayerPlan next) throws IOException {
        Files.createDirectories(planFile.getParent());
        Path partial = planFile.resolveSibling(planFile.getFileName() + ".partial");
        Files.writeString(partial, JSON.writeValueAsString(next));
        Files.move(partial, planFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        plan = next;
    }
}
