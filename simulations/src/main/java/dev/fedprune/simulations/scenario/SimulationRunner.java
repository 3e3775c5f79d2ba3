package dev.fedprune.simulations.scenario;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs a scenario: a real coordinator node and N real agents in this JVM, talking gRPC over
 * loopback, each agent with its own slice of the data; prints progress per round.
 */
public final class SimulationRunner {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** What a run left behind. */
    public record Result(String jobId, String state, String failureReason, Path resultDir, JsonNode report) {
    }

    private SimulationRunner() {
    }

    public static Result run(Scenario scenario, Path out, Map<PruneMethod, MaskEngine> engines, PrintStream console)
            throws IOException, InterruptedException {
        Files.createDirectories(out);
        Path model = scenario.model().equals("synthetic") ? out.resolve("synthetic-model") : Path.of(scenario.model());
        Path data = scenario.data();
        if (scenario.model().equals("synthetic")) {
            console.println("generating a synthetic LLaMA model in " + model);
            SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 64, 172, 4, 2, 259, 64, true, DType.F32), scenario.seed());
            if (data == null) {
                data = syntheticData(out.resolve("synthetic-data.jsonl"), 64, scenario.seed());
            }
        }
        List<Path> slices = Partitioner.split(data, scenario.agents(), scenario.partition(), scenario.seed(), out.resolve("agents"));
        console.printf("%s: %d agents, %s split of %s%n", scenario.name(), scenario.agents(), scenario.partition().name().toLowerCase(), data);

        Map<String, Object> spec = new LinkedHashMap<>(scenario.job());
        spec.putIfAbsent("name", scenario.name());
        spec.put("model", model.toAbsolutePath().toString());
        spec.putIfAbsent("agentsPerRound", scenario.agents());
        spec.putIfAbsent("seed", scenario.seed());
        Map<PruneMethod, MaskEngine> limited = HostCpuLimit.wrap(engines, HostCpuLimit.forThisHost());
        VirtualFederation.Result r = VirtualFederation.run(out, slices, spec, i -> limited, i -> VirtualFederation.Failure.NONE, 0,
                model, console);
        return new Result(r.jobId(), r.state(), r.failureReason(), r.resultDir(), r.report());
    }

    /** Random byte-level "documents" in the fixture's token-id format, spread over a few categories. */
    public static Path syntheticData(Path file, int lines, long seed) throws IOException {
        Random random = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < lines; i++) {
            StringBuilder ids = new StringBuilder("1");
            int length = 16 + random.nextInt(48);
            for (int t = 0; t < length; t++) {
                ids.append(',').append(3 + random.nextInt(256));
            }
            out.add("{\"category\": \"topic-" + (i % 8) + "\", \"ids\": [" + ids + ",2]}");
        }
        Files.write(file, out);
        return file;
    }

    /** Prints the final per-layer sparsity table of a report. */
    public static void printSummary(Result result, PrintStream console) {
        console.println();
        console.println("job " + result.jobId() + ": " + result.state() + (result.failureReason() == null ? "" : " (" + result.failureReason() + ")"));
        if (result.report() == null) {
            return;
        }
        console.println("per-layer sparsity of the global mask:");
        result.report().get("layerSparsity").properties().forEach(e ->
                console.printf("  %-10s %.4f%n", e.getKey(), e.getValue().asDouble()));
        console.printf("overall sparsity: %.4f (%d of %d prunable weights)%n", result.report().get("overallSparsity").asDouble(),
                result.report().get("prunedWeights").asLong(), result.report().get("prunableWeights").asLong());
        console.println("pruned model:  " + result.resultDir().resolve("model"));
        console.println("global mask:   " + result.resultDir().resolve("global-mask.safetensors"));
        console.println("report:        " + result.resultDir().resolve("report.json"));
    }
}
