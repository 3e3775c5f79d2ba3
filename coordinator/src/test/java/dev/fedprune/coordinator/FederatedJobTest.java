package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.eval.LlmQualityEvaluator;
import dev.fedprune.agent.task.LocalPruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.TestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Coordinator plus three agents as real gRPC peers, end to end; the first and last tests also on PostgreSQL. */
class FederatedJobTest {
    static final tools.jackson.databind.json.JsonMapper JSON = tools.jackson.databind.json.JsonMapper.builder().build();
    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void model() throws Exception {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(2, 32, 64, 4, 2, 50, 32, true, dev.fedprune.aggregation.format.DType.F32), 7);
    }

    /** Three agents that prune differently, so that the votes actually disagree. */
    static Map<LocalPruneMethod, MaskEngine> engine(long perturbationSeed) {
        return Map.of(LocalPruneMethod.MAGNITUDE, new PerturbedMagnitude(perturbationSeed));
    }

    String spec(String group, double sparsity) {
        return """
            name: it
            model: %s
            localPruner: magnitude
            localComparisonGroup: row
            sparsity: %s
            comparisonGroup: %s
            agentsPerRound: 3
            quorum: 3
            deadlineSeconds: 120
            seed: 42
            """.formatted(model, sparsity, group);
    }

    Map<String, BitMask> runJob(Path dataDir, String spec) throws Exception {
        return runJob(dataDir, TestDatabase.h2(dataDir), spec);
    }

    Map<String, BitMask> runJob(Path dataDir, TestDatabase database, String spec) throws Exception {
        Path data = Files.writeString(dir.resolve("data.jsonl"), "{\"ids\":[1,2,3]}\n");
        try (Federation fed = new Federation(dataDir, database)) {
            for (int i = 0; i < 3; i++) {
                fed.startAgent("agent-" + i, data, dataDir.resolve("agent-" + i), engine(i));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + " " + fed.node.store().events(jobId));
            return readMasks(Path.of(job.resultDir()));
        }
    }

    static Map<String, BitMask> readMasks(Path resultDir) throws Exception {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(resultDir.resolve("global-mask.safetensors"))) {
            for (TensorInfo info : f.tensors().values()) {
                byte[] bytes = new byte[(int) info.byteSize()];
                f.bytes(info.name()).get(bytes);
                masks.put(info.name(), BitMask.fromBytes(Long.parseLong(f.metadata().get("weights." + info.name())), bytes));
            }
        }
        return masks;
    }

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void globalMaskEqualsDirectAggregationAndModelHasExactSparsity(TestDatabase.Kind kind) throws Exception {
        Path dataDir = dir.resolve("coord-a-" + kind);
        Map<String, BitMask> global;
        try (TestDatabase database = TestDatabase.create(kind, dataDir)) {
            global = runJob(dataDir, database, spec("layer", 0.5));
        }

        // The same aggregation computed directly from the three agents' masks.
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            f.tensors().values().stream().filter(t -> PrunableTensors.isPrunable(t.name())).forEach(t -> shapes.put(t.name(), t.shape()));
        }
        VoteAccumulator votes = new VoteAccumulator(shapes);
        for (int i = 0; i < 3; i++) {
            MaskRequest request = new MaskRequest(model, dir.resolve("data.jsonl"), LocalPruneMethod.MAGNITUDE, 0.5, true, 0, 0, 0, 0, 42,
                    List.copyOf(shapes.keySet()), -1, Map.of());
            votes.fold("a" + i, new PerturbedMagnitude(i).computeMasks(request, ProgressListener.NONE));
        }
        SelectionSpec selection = new SelectionSpec(ComparisonGroup.LAYER, 0.5, 0, 0, TieBreak.SEEDED_RANDOM, 42);
        assertEquals(shapes.keySet(), global.keySet());
        for (String name : shapes.keySet()) {
            assertEquals(votes.select(name, selection), global.get(name), name);
        }

        // The written model reloads with exactly the target sparsity on every pruned tensor.
        Path job = Files.list(dataDir.resolve("jobs")).findFirst().orElseThrow();
        try (SafetensorsFile pruned = SafetensorsFile.open(job.resolve("result/model/model.safetensors"));
             SafetensorsFile original = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            for (TensorInfo info : pruned.tensors().values()) {
                float[] w = pruned.floats(info.name());
                float[] o = original.floats(info.name());
                if (PrunableTensors.isPrunable(info.name())) {
                    BitMask mask = global.get(info.name());
                    long zeros = 0;
                    for (int i = 0; i < w.length; i++) {
                        if (mask.get(i)) {
                            assertEquals(0f, w[i]);
                        } else {
                            assertEquals(o[i], w[i]);
                        }
                        zeros += w[i] == 0f ? 1 : 0;
                    }
                    assertEquals((long) (w.length * 0.5), zeros, info.name());
                } else {
                    assertArrayEquals(o, w, info.name());
                }
            }
            assertTrue(Files.isRegularFile(job.resolve("result/report.json")));
            assertTrue(Files.isRegularFile(job.resolve("result/model/config.json")));
        }
    }

    @Test
    void sameJobSameSeedGivesBitIdenticalMask() throws Exception {
        Map<String, BitMask> first = runJob(dir.resolve("coord-b"), spec("layer", 0.6));
        Map<String, BitMask> second = runJob(dir.resolve("coord-c"), spec("layer", 0.6));
        assertEquals(first, second);
    }

    @ParameterizedTest(name = "on {0}")
    @EnumSource(TestDatabase.Kind.class)
    void agentsMeasureTheGlobalModelEveryRoundAndAnEvaluationRoundMeasuresTheFinalOne(TestDatabase.Kind kind) throws Exception {
        Path data = Files.writeString(dir.resolve("eval-data.jsonl"),
                "{\"ids\":[1,2,3,9,4]}\n{\"ids\":[5,6,7,8,30,2]}\n{\"ids\":[11,12,13,14]}\n");
        Path dataDir = dir.resolve("coord-eval-" + kind);
        String spec = spec("layer", 0.5) + "strategy: iterative\nevaluationSamples: 2\n";
        try (TestDatabase database = TestDatabase.create(kind, dataDir); Federation fed = new Federation(dataDir, database)) {
            for (int i = 0; i < 3; i++) {
                fed.startAgent("agent-" + i, data, dataDir.resolve("agent-" + i), engine(i));
            }
            String jobId = fed.node.engine().submit(JobSpecParser.parse(spec));
            JobRecord job = fed.awaitFinal(jobId, 60_000);
            assertEquals("COMPLETED", job.state(), () -> job.failureReason() + " " + fed.node.store().events(jobId));
            // Two decoder layers: two voting rounds, then the evaluation round.
            var rounds = fed.node.store().rounds(jobId);
            assertEquals(3, rounds.size());
            LlmQualityEvaluator evaluator = new LlmQualityEvaluator(ai.djl.Device.cpu());
            for (var r : rounds) {
                var quality = JSON.readTree(r.summary()).get("quality");
                assertEquals(r.roundIndex(), quality.get("modelAfterRounds").asInt(), r.summary());
                assertEquals("perplexity", quality.get("metric").asText());
                assertEquals(3, quality.get("agents").asInt());
                assertEquals(6, quality.get("samples").asLong());
            }
            // Round 1 measured the unpruned model; the evaluation round measured the final pruned model. All
            // three agents hold the same data, so the round's mean equals one agent's measurement.
            double dense = evaluator.measure(model, data, Map.of(), 2, 0, 42).getValue();
            double pruned = evaluator.measure(Path.of(job.resultDir()).resolve("model"), data, Map.of(), 2, 0, 42).getValue();
            assertEquals(dense, JSON.readTree(rounds.get(0).summary()).get("quality").get("value").asDouble(), dense * 1e-9);
            assertEquals(pruned, JSON.readTree(rounds.get(2).summary()).get("quality").get("value").asDouble(), pruned * 1e-9);
            assertTrue(JSON.readTree(rounds.get(2).summary()).get("evaluation").asBoolean());
            assertTrue(Math.abs(pruned - dense) > 1e-6, "pruning half the weights changes the perplexity: " + dense + " vs " + pruned);
        }
    }

    /**
     * Magnitude pruning of the weights plus agent-specific noise: a stand-in for data-dependent
     * pruning, so that the three agents' masks differ and ties in the layer vote actually occur.
     */
    static final class PerturbedMagnitude implements MaskEngine {
        private final long seed;

        PerturbedMagnitude(long seed) {
            this.seed = seed;
        }

        @Override
        public Map<String, BitMask> computeMasks(MaskRequest request, ProgressListener progress) throws java.io.IOException {
            Path noisy = Files.createTempDirectory("perturbed");
            try (dev.fedprune.aggregation.format.Checkpoint f = dev.fedprune.aggregation.format.Checkpoint.open(request.modelDir())) {
                java.util.Random random = new java.util.Random(seed);
                var entries = f.infos().stream().map(t -> new dev.fedprune.aggregation.format.SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape())).toList();
                try (var w = dev.fedprune.aggregation.format.SafetensorsWriter.create(noisy.resolve("model.safetensors"), entries, Map.of())) {
                    for (TensorInfo t : f.infos()) {
                        float[] v = f.readFloats(t.name());
                        for (int i = 0; i < v.length; i++) {
                            v[i] *= (float) (1 + 0.5 * random.nextGaussian());
                        }
                        w.write(t.name(), v);
                    }
                }
            }
            MaskRequest perturbed = new MaskRequest(noisy, request.calibrationFile(), request.method(), request.sparsityRatio(), request.perRow(),
                    request.nmN(), request.nmM(), request.calibrationSamples(), request.sequenceLength(), request.seed(), request.tensorNames(),
                    request.layerIndex(), request.priorMasks());
            try {
                return new MagnitudeMaskEngine().computeMasks(perturbed, progress);
            } finally {
                Files.deleteIfExists(noisy.resolve("model.safetensors"));
                Files.deleteIfExists(noisy);
            }
        }
    }
}
