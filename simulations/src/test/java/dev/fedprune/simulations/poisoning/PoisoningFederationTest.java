package dev.fedprune.simulations.poisoning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.GeneratedImages;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.image.LabelPartitioner;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.simulations.scenario.VirtualFederation;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The poisoning option end to end, with a real coordinator and virtual agents over gRPC: the malicious
 * agents (and only they) send something else than their honest code computed, the plain aggregation
 * follows them, and the defences the job spec selects do not.
 */
class PoisoningFederationTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    @TempDir
    Path dir;

    static VirtualFederation.Result run(Path out, List<Path> slices, Map<String, Object> spec, Poisoning poisoning) throws Exception {
        boolean[] malicious = poisoning.malicious(slices.size());
        var handlers = poisoning.handlers();
        return VirtualFederation.run(out, slices, spec, i -> new LlmMaskEngine().byMethod(), i -> VirtualFederation.Failure.NONE, 0, null,
                QUIET, i -> malicious[i] ? handlers : null);
    }

    /** Names of the agents whose tasks reported {@code poisoned}: what the attack actually changed. */
    static List<String> poisonedAgents(VirtualFederation.Result r) {
        return r.tasks().stream().filter(t -> r.metrics().getOrDefault(t.id(), Map.of()).containsKey("poisoned"))
                .map(TaskRecord::agentId).distinct().toList();
    }

    // ------------------------------------------------------------------ FedPrLLM: inverted masks with inflated sample counts

    Map<String, Object> voteSpec(Path model, String name, Map<String, Object> extra) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("name", name);
        spec.put("model", model.toString());
        spec.put("localPruner", "magnitude");
        spec.put("localComparisonGroup", "layer");
        spec.put("comparisonGroup", "layer");
        spec.put("sparsity", 0.5);
        spec.put("voteWeighting", "samples");
        spec.put("agentsPerRound", 4);
        spec.put("deadlineSeconds", 120);
        spec.putAll(extra);
        return spec;
    }

    @Test
    void anInvertedInflatedVoteDictatesTheMaskUnlessTheSampleCapHoldsIt() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 4);
        List<Path> slices = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            slices.add(Files.writeString(dir.resolve("calib-" + i + ".jsonl"), "{\"ids\": [1, 5, 6, 7]}\n{\"ids\": [1, 8, 9]}\n"));
        }
        Poisoning attack = new Poisoning(Poisoning.Attack.INVERTED_MASKS_INFLATED, 0.25, 100, 3);
        int liar = java.util.stream.IntStream.range(0, 4).filter(i -> attack.malicious(4)[i]).findFirst().orElseThrow();

        VirtualFederation.Result honest = run(dir.resolve("honest"), slices, voteSpec(model, "honest", Map.of()), Poisoning.NONE);
        VirtualFederation.Result plain = run(dir.resolve("plain"), slices, voteSpec(model, "plain", Map.of()), attack);
        VirtualFederation.Result capped = run(dir.resolve("capped"), slices, voteSpec(model, "capped", Map.of("sampleCap", 2)), attack);
        for (VirtualFederation.Result r : List.of(honest, plain, capped)) {
            assertEquals("COMPLETED", r.state(), r.failureReason());
        }
        assertEquals(List.of(), poisonedAgents(honest));
        assertEquals(1, poisonedAgents(plain).size(), "one agent of four attacks");
        // The liar's vote is the inverse of the honest one, so it disagrees with everyone; uncapped, its 100x weight wins.
        JsonNode plainRound = JSON.readTree(plain.rounds().get(0).summary());
        JsonNode cappedRound = JSON.readTree(capped.rounds().get(0).summary());
        String honestName = String.format("agent-%03d", (liar + 1) % 4);
        assertEquals(1.0, plainRound.get("agreement").get(honestName).asDouble(), 1e-9, plainRound.toString());
        assertEquals(0.0, cappedRound.get("agreement").get(honestName).asDouble(), 1e-9, cappedRound.toString());
        assertEquals(String.format("[\"agent-%03d\"]", liar), cappedRound.get("defence").get("capped").toString());
        assertEquals(1, poisonedAgents(capped).size(), "the same seed, the same one liar (ids differ between coordinators)");
    }

    // ------------------------------------------------------------------ sparse training: a scaled, sign-flipped update

    List<Path> imageSlices(int agents) throws Exception {
        LabeledImages train = GeneratedImages.bars(1200, 1);
        LabeledImages test = GeneratedImages.bars(400, 2);
        List<int[]> parts = LabelPartitioner.iid(train.size(), agents, 100, 5);
        List<int[]> heldOut = LabelPartitioner.iid(test.size(), agents, 50, 6);
        List<Path> slices = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            Path d = dir.resolve("images-" + a);
            IdxWriter.write(d, FashionMnist.Split.TRAIN, train, parts.get(a));
            IdxWriter.write(d, FashionMnist.Split.TEST, test, heldOut.get(a));
            slices.add(d);
        }
        return slices;
    }

    static Map<String, Object> trainingSpec(String name, Map<String, Object> robust) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("name", name);
        spec.put("method", "sparse_training");
        spec.put("variant", "static_sparse");
        spec.put("channels", List.of(4, 8));
        spec.put("density", 0.5);
        spec.put("rounds", 4);
        spec.put("localSteps", 8);
        spec.put("batchSize", 16);
        spec.put("learningRate", 0.1);
        spec.put("agentsPerRound", 5);
        spec.put("seed", 2);
        if (robust != null) {
            spec.put("robustAggregation", robust);
        }
        return spec;
    }

    static double finalAccuracy(VirtualFederation.Result r) {
        assertEquals("COMPLETED", r.state(), r.failureReason());
        return r.report().get("finalAccuracy").asDouble();
    }

    @Test
    void aSignFlippedScaledUpdateWrecksTheMeanButNotTheMedianTheTrimmedMeanOrClipping() throws Exception {
        List<Path> slices = imageSlices(5);
        Poisoning attack = new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.2, 10, 1);
        double clean = finalAccuracy(run(dir.resolve("clean"), slices, trainingSpec("clean", null), Poisoning.NONE));
        VirtualFederation.Result plainRun = run(dir.resolve("mean"), slices, trainingSpec("mean", null), attack);
        double plain = finalAccuracy(plainRun);
        assertEquals(1, poisonedAgents(plainRun).size(), "one agent of five attacks");
        double median = finalAccuracy(run(dir.resolve("median"), slices, trainingSpec("median", Map.of("rule", "median")), attack));
        double trimmed = finalAccuracy(run(dir.resolve("trimmed"), slices,
                trainingSpec("trimmed", Map.of("rule", "trimmed_mean", "trimFraction", 0.2)), attack));
        VirtualFederation.Result clipRun = run(dir.resolve("clip"), slices, trainingSpec("clip", Map.of("clipNorm", 1.0)), attack);
        double clipped = finalAccuracy(clipRun);
        String figures = "clean " + clean + ", mean " + plain + ", median " + median + ", trimmed " + trimmed + ", clipped " + clipped;
        System.out.println("poisoning end to end: " + figures);
        assertTrue(clean > 0.5, figures);
        assertTrue(plain < clean - 0.2, "the attacker wrecks the plain mean: " + figures);
        for (double defended : new double[] {median, trimmed, clipped}) {
            assertTrue(defended > plain + 0.2 && defended > clean - 0.15, figures);
        }
        int attacker = java.util.stream.IntStream.range(0, 5).filter(i -> attack.malicious(5)[i]).findFirst().orElseThrow();
        JsonNode defence = clipRun.report().get("rounds").get(0).get("defence");
        assertTrue(defence.get("clipped").toString().contains(String.format("\"agent-%03d\"", attacker)), defence.toString());
    }
}
