package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.wire.SparseTensorWire;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.BnStatisticsWire;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.SparseTrainingSpec;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelQuality;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import dev.fedprune.proto.v1.TopKGradients;
import dev.fedprune.proto.v1.TrainingRoundMode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The coordinator side of sparse training without agents: what it folds, what it refuses, what a round produces. */
class SparseTrainingMethodTest {
    static final String SPEC = """
            method: sparse_training
            variant: fedtiny_no_abns
            blocks: 1
            channels: [2, 4]
            imageSide: 8
            density: 0.5
            rounds: 4
            adjustAlpha: 1.0
            adjustInterval: 2
            adjustStopRound: 3
            seed: 4
            """;

    @TempDir
    Path dir;
    ArtifactStore artifacts;
    SparseTrainingMethod method;

    /**
     * Small VGG with two blocks (2 and 4 channels) on 8x8 images, ERK at density 0.5 (conv0 comes out
     * dense), one adjustment at t = 2 over all layers (one block), mask-sync at t = 3.
     */
    static SparseTrainingMethod create(JobSpec job, java.nio.file.Path jobDir, ArtifactStore artifacts) throws java.io.IOException {
        return new SparseTrainingMethod(job.method(SparseTrainingSpec.class), job.seed(), jobDir, artifacts);
    }

    @BeforeEach
    void method() throws Exception {
        artifacts = new ArtifactStore(dir.resolve("artifacts"));
        method = create(JobSpecParser.parse(SPEC), dir.resolve("job"), artifacts);
    }

    SparseUpdate globalWeights(int round) throws Exception {
        return SparseUpdate.parseFrom(artifacts.read(method.taskTemplate(round).getTraining().getWeightsArtifactId()));
    }

    Map<String, BitMask> keepMasks(int round) throws Exception {
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (var t : globalWeights(round).getTensorsList()) {
            if (t.getTensorName().endsWith(".weight")) {
                sizes.put(t.getTensorName(), t.getShape(0));
            }
        }
        Map<String, BitMask> pruned = MaskWire.decode("mask", MaskSet.parseFrom(artifacts.read(method.taskTemplate(round).getTraining().getMaskArtifactId())), sizes);
        Map<String, BitMask> keep = new LinkedHashMap<>();
        pruned.forEach((n, p) -> keep.put(n, GlobalModel.complement(p)));
        return keep;
    }

    static Map<String, SparseTensor> decode(SparseUpdate u) {
        Map<String, SparseTensor> out = new LinkedHashMap<>();
        for (var t : u.getTensorsList()) {
            out.put(t.getTensorName(), SparseTensorWire.decode("t", t, t.getShape(0)));
        }
        return out;
    }

    /** The global weights scaled by {@code factor}, as an agent would upload them. */
    Contribution upload(int round, float factor, long samples) throws Exception {
        return upload(decode(globalWeights(round)), factor, samples);
    }

    /** The given global weights scaled by {@code factor}, as an agent would upload them. */
    static Contribution upload(Map<String, SparseTensor> global, float factor, long samples) {
        SparseUpdate.Builder u = SparseUpdate.newBuilder();
        global.forEach((name, t) -> {
            float[] v = t.values().clone();
            for (int i = 0; i < v.length; i++) {
                v[i] *= factor;
            }
            u.addTensors(SparseTensorWire.encode(name, new SparseTensor(t.size(), t.indices(), v)));
        });
        return Contribution.newBuilder().setTaskId("t").setSampleCount(samples).setSparseUpdate(u)
                .setPriorModelQuality(ModelQuality.newBuilder().setMetric("accuracy").setValue(0.5).setSamples(10)).build();
    }

    /** Replaces one tensor of a contribution's update. */
    static Contribution withTensor(Contribution c, String name, UnaryOperator<dev.fedprune.proto.v1.SparseTensor> change) {
        SparseUpdate.Builder u = c.getSparseUpdate().toBuilder();
        for (int i = 0; i < u.getTensorsCount(); i++) {
            if (u.getTensors(i).getTensorName().equals(name)) {
                u.setTensors(i, change.apply(u.getTensors(i)));
            }
        }
        return c.toBuilder().setSparseUpdate(u).build();
    }

    static void assertRefused(String field, String fragment, Runnable fold) {
        InvalidContributionException e = assertThrows(InvalidContributionException.class, fold::run);
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void roundAveragesWeightsBySampleCountAndKeepsTheMask() throws Exception {
        Task.Builder task = method.taskTemplate(0);
        assertEquals(TaskKind.TASK_KIND_SPARSE_UPDATE, task.getKind());
        Map<String, SparseTensor> before = decode(globalWeights(0));
        Map<String, BitMask> keep = keepMasks(0);
        method.openRound(0);
        method.fold(0, "a", upload(0, 1f, 100));
        method.fold(0, "b", upload(0, 3f, 300));
        RoundSummary summary = method.closeRound(0, id -> null);
        assertEquals(2, summary.agents());
        assertEquals(0.5, ((TrainingPhase.Summary) summary.detail()).priorAccuracy(), 1e-12);
        Map<String, SparseTensor> after = decode(globalWeights(1));
        for (String name : before.keySet()) {
            float[] b = before.get(name).toDense();
            float[] a = after.get(name).toDense();
            for (int i = 0; i < b.length; i++) {
                assertEquals(2.5f * b[i], a[i], 1e-6f * Math.abs(b[i]) + 1e-30f, name + "[" + i + "]");
            }
        }
        assertEquals(keep, keepMasks(1));
    }

    @Test
    void foldOrderDoesNotChangeTheAggregate() throws Exception {
        method.openRound(0);
        method.fold(0, "a", upload(0, 1f, 100));
        method.fold(0, "b", upload(0, 2f, 50));
        method.closeRound(0, id -> null);
        String ab = method.taskTemplate(1).getTraining().getWeightsArtifactId();
        method();
        method.openRound(0);
        method.fold(0, "b", upload(0, 2f, 50));
        method.fold(0, "a", upload(0, 1f, 100));
        method.closeRound(0, id -> null);
        assertEquals(ab, method.taskTemplate(1).getTraining().getWeightsArtifactId());
    }

    @Test
    void refusesBadUpdatesByFieldAndFoldsNothing() throws Exception {
        method.openRound(0);
        Contribution good = upload(0, 1f, 100);
        String conv = "conv1.weight";
        Map<String, BitMask> keep = keepMasks(0);
        int inactive = 0;
        while (keep.get(conv).get(inactive)) {
            inactive++;
        }
        int atInactive = inactive;
        assertRefused("sparse_update.tensors[conv1.weight]", "not finite", () -> method.fold(0, "a", withTensor(good, conv, t -> {
            var v = java.nio.ByteBuffer.wrap(t.getValues().toByteArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            v.putFloat(0, Float.NaN);
            return t.toBuilder().setValues(com.google.protobuf.ByteString.copyFrom(v.array())).build();
        })));
        assertRefused("sparse_update.tensors[conv1.weight].shape", "holds 17 elements", () -> method.fold(0, "a",
                withTensor(good, conv, t -> t.toBuilder().setShape(0, 17).build())));
        assertRefused("sparse_update.tensors[conv1.weight]", "inactive weight", () -> method.fold(0, "a", withTensor(good, conv,
                t -> SparseTensorWire.encode(conv, new SparseTensor(t.getShape(0), new int[] {atInactive}, new float[] {0.5f})))));
        assertRefused("sparse_update.tensors[conv1.weight]", "out of range", () -> method.fold(0, "a", withTensor(good, conv,
                t -> SparseTensorWire.encode(conv, new SparseTensor(10_000, new int[] {9_999}, new float[] {0.5f})).toBuilder().setShape(0, t.getShape(0)).build())));
        assertRefused("sparse_update.tensors[bn0.runningVar]", "sent in full", () -> method.fold(0, "a", withTensor(good, "bn0.runningVar",
                t -> SparseTensorWire.encode("bn0.runningVar", new SparseTensor(2, new int[] {1}, new float[] {1f})))));
        assertRefused("sparse_update.tensors", "'fc.bias' is missing", () -> {
            SparseUpdate.Builder u = good.getSparseUpdate().toBuilder();
            u.removeTensors(u.getTensorsCount() - 1);
            method.fold(0, "a", good.toBuilder().setSparseUpdate(u).build());
        });
        assertRefused("prior_model_quality", "required", () -> method.fold(0, "a", good.toBuilder().clearPriorModelQuality().build()));
        assertRefused("prior_model_quality.value", "[0, 1]", () -> method.fold(0, "a",
                good.toBuilder().setPriorModelQuality(good.getPriorModelQuality().toBuilder().setValue(Double.NaN)).build()));
        assertRefused("sample_count", "at least 1", () -> method.fold(0, "a", good.toBuilder().setSampleCount(0).build()));
        assertRefused("top_k_gradients", "not an adjustment round", () -> method.fold(0, "a",
                good.toBuilder().setTopKGradients(TopKGradients.getDefaultInstance()).build()));
        // Nothing of the refused uploads was folded: the same agent's good upload is the whole average.
        method.fold(0, "a", good);
        method.closeRound(0, id -> null);
        Map<String, SparseTensor> before = decode(good.getSparseUpdate());
        Map<String, SparseTensor> after = decode(globalWeights(1));
        for (String name : before.keySet()) {
            assertArrayEquals(before.get(name).toDense(), after.get(name).toDense(), 1e-6f, name);
        }
    }

    @Test
    void adjustmentRoundFoldsTopKGradientsAndPrunesAndGrowsEveryLayerAtConstantDensity() throws Exception {
        for (int r = 0; r < 2; r++) {
            method.openRound(r);
            method.fold(r, "a", upload(r, 1f, 100));
            method.closeRound(r, id -> null);
        }
        Task.Builder task = method.taskTemplate(2);
        assertEquals(TaskKind.TASK_KIND_TOP_K_GRADIENTS, task.getKind());
        assertEquals(TrainingRoundMode.TRAINING_ROUND_MODE_ADJUSTMENT, task.getTraining().getMode());
        assertEquals(3, task.getTraining().getTopKCount(), "no progressive schedule: all three sparse layers");
        Map<String, BitMask> keep = keepMasks(2);
        Map<String, Integer> k = new LinkedHashMap<>();
        task.getTraining().getTopKList().forEach(r -> k.put(r.getTensorName(), r.getK()));
        assertEquals(0, k.get("conv0.weight"), "a dense layer has no inactive weight to grow");
        assertTrue(k.get("conv1.weight") > 0 && k.get("fc.weight") > 0, k.toString());

        // Gradients at the last k inactive positions of every layer, growing with the index.
        TopKGradients.Builder grads = TopKGradients.newBuilder();
        Map<String, int[]> expectedGrown = new LinkedHashMap<>();
        for (var e : k.entrySet()) {
            BitMask m = keep.get(e.getKey());
            int[] idx = new int[e.getValue()];
            float[] val = new float[e.getValue()];
            int j = e.getValue() - 1;
            for (int i = (int) m.length() - 1; i >= 0 && j >= 0; i--) {
                if (!m.get(i)) {
                    idx[j] = i;
                    val[j] = (j % 2 == 0 ? 1 : -1) * (1 + j);
                    j--;
                }
            }
            expectedGrown.put(e.getKey(), idx);
            grads.addTensors(SparseTensorWire.encode(e.getKey(), new SparseTensor(m.length(), idx, val)));
        }
        Contribution good = upload(2, 1f, 100).toBuilder().setTopKGradients(grads).build();
        method.openRound(2);
        String fc = "fc.weight";
        int active = 0;
        while (!keep.get(fc).get(active)) {
            active++;
        }
        int atActive = active;
        UnaryOperator<Contribution> gradientAtActive = c -> {
            TopKGradients.Builder g = c.getTopKGradients().toBuilder();
            for (int i = 0; i < g.getTensorsCount(); i++) {
                if (g.getTensors(i).getTensorName().equals(fc)) {
                    g.setTensors(i, SparseTensorWire.encode(fc, new SparseTensor(keep.get(fc).length(), new int[] {atActive}, new float[] {1f})));
                }
            }
            return c.toBuilder().setTopKGradients(g).build();
        };
        assertRefused("top_k_gradients.tensors[fc.weight]", "points at an active weight", () -> method.fold(2, "a", gradientAtActive.apply(good)));
        assertRefused("top_k_gradients", "needs the top-K", () -> method.fold(2, "a", good.toBuilder().clearTopKGradients().build()));
        method.fold(2, "a", good);
        RoundSummary summary = method.closeRound(2, id -> null);
        assertEquals(true, ((TrainingPhase.Summary) summary.detail()).maskChanged());
        Map<String, BitMask> after = keepMasks(3);
        for (var e : k.entrySet()) {
            BitMask b = keep.get(e.getKey());
            BitMask a = after.get(e.getKey());
            assertEquals(b.cardinality(), a.cardinality(), "density of " + e.getKey());
            for (int i : expectedGrown.get(e.getKey())) {
                assertTrue(a.get(i), e.getKey() + "[" + i + "] grown");
            }
            assertEquals(2L * e.getValue(), b.hammingDistance(a), e.getKey());
        }
        // Grown weights start at 0; the mask is sent again in the following (mask-sync) round.
        Map<String, SparseTensor> weights = decode(globalWeights(3));
        for (var e : expectedGrown.entrySet()) {
            float[] w = weights.get(e.getKey()).toDense();
            for (int i : e.getValue()) {
                assertEquals(0f, w[i]);
            }
        }
        assertEquals(TrainingRoundMode.TRAINING_ROUND_MODE_MASK_SYNC, method.taskTemplate(3).getTraining().getMode());
        assertNotEquals(task.getTraining().getMaskArtifactId(), method.taskTemplate(3).getTraining().getMaskArtifactId());
    }

    @Test
    void restartedMethodReloadsTheGlobalModelOfTheLastClosedRound() throws Exception {
        for (int r = 0; r < 2; r++) {
            method.openRound(r);
            method.fold(r, "a", upload(r, 1.5f, 100));
            method.closeRound(r, id -> null);
        }
        Task.Builder expected = method.taskTemplate(2);
        SparseTrainingMethod restarted = create(JobSpecParser.parse(SPEC), dir.resolve("job"), artifacts);
        assertNotEquals(expected.build(), restarted.taskTemplate(2).build(), "a fresh method starts from the initial model");
        restarted.restoreClosedRounds(2);
        assertEquals(expected.build(), restarted.taskTemplate(2).build());
        assertEquals(method.density(), restarted.density());
    }

    @Test
    void adaptiveBnSelectionAggregatesStatisticsPerCandidateAndInstallsTheLowestLoss() throws Exception {
        method = create(JobSpecParser.parse(SPEC.replace("variant: fedtiny_no_abns", "variant: fedtiny\ncandidates: 3")),
                dir.resolve("abns"), artifacts);
        Task.Builder task = method.taskTemplate(0);
        assertEquals(TaskKind.TASK_KIND_BN_CANDIDATE_SCORES, task.getKind());
        assertEquals(3, task.getTraining().getCandidatesCount());
        Map<String, Integer> channels = new LinkedHashMap<>();
        channels.put("bn0", 2);
        channels.put("bn1", 4);
        java.util.function.BiFunction<Float, Float, dev.fedprune.proto.v1.CandidateBnStatistics> stats = (mean, variance) -> {
            var all = dev.fedprune.proto.v1.CandidateBnStatistics.newBuilder();
            for (int c = 0; c < 3; c++) {
                Map<String, dev.fedprune.aggregation.sparsetrain.BnStatistics> m = new LinkedHashMap<>();
                for (var e : channels.entrySet()) {
                    float[] mu = new float[e.getValue()];
                    float[] var = new float[e.getValue()];
                    java.util.Arrays.fill(mu, mean + c);
                    java.util.Arrays.fill(var, variance);
                    m.put(e.getKey(), new dev.fedprune.aggregation.sparsetrain.BnStatistics(mu, var));
                }
                all.addCandidates(BnStatisticsWire.encode(m));
            }
            return all.build();
        };
        method.openRound(0);
        Contribution a = Contribution.newBuilder().setTaskId("t").setSampleCount(100).setCandidateBnStatistics(stats.apply(0f, 1f)).build();
        Contribution b = Contribution.newBuilder().setTaskId("t").setSampleCount(300).setCandidateBnStatistics(stats.apply(4f, 3f)).build();
        var nan = stats.apply(Float.NaN, 1f);
        assertRefused("candidate_bn_statistics.candidates[0][bn0]", "not finite", () -> method.fold(0, "a", a.toBuilder().setCandidateBnStatistics(nan).build()));
        var fewer = a.getCandidateBnStatistics().toBuilder().removeCandidates(2).build();
        assertRefused("candidate_bn_statistics.candidates", "2 candidates, expected 3", () -> method.fold(0, "a", a.toBuilder().setCandidateBnStatistics(fewer).build()));
        var wrongChannels = a.getCandidateBnStatistics().toBuilder();
        wrongChannels.setCandidates(1, wrongChannels.getCandidates(1).toBuilder().setLayers(0, wrongChannels.getCandidates(1).getLayers(0).toBuilder().addMean(0f).addVariance(1f)));
        assertRefused("candidate_bn_statistics.candidates[1][bn0]", "3 means and 3 variances, expected 2", () -> method.fold(0, "a",
                a.toBuilder().setCandidateBnStatistics(wrongChannels).build()));
        assertRefused("candidate_bn_statistics", "needs BatchNorm statistics", () -> method.fold(0, "a", Contribution.newBuilder().setTaskId("t")
                .setSampleCount(1).setSparseUpdate(SparseUpdate.getDefaultInstance()).build()));
        method.fold(0, "a", a);
        method.fold(0, "b", b);
        method.closeRound(0, id -> null);

        Task.Builder losses = method.taskTemplate(1);
        var aggregated = dev.fedprune.proto.v1.CandidateBnStatistics.parseFrom(artifacts.read(losses.getTraining().getCandidateStatisticsArtifactId()));
        assertEquals(3 + 1, aggregated.getCandidates(1).getLayers(0).getMean(0), 1e-6, "0.25·1 + 0.75·5");
        assertEquals(2.5, aggregated.getCandidates(1).getLayers(0).getVariance(0), 1e-6, "plain pooling, O-17");
        method.openRound(1);
        assertRefused("losses", "2 losses, expected one per candidate (3)", () -> method.fold(1, "a", Contribution.newBuilder().setTaskId("t")
                .setCandidateLosses(dev.fedprune.proto.v1.CandidateLosses.newBuilder().addLosses(1f).addLosses(2f)).build()));
        float[][] perCandidate = {{1.2f, 0.9f, 1.5f}, {1.0f, 1.1f, 1.3f}, {0.8f, 1.6f, 1.2f}}; // O-17: candidate 1 wins
        for (int k = 0; k < 3; k++) {
            var l = dev.fedprune.proto.v1.CandidateLosses.newBuilder();
            for (int c = 0; c < 3; c++) {
                l.addLosses(perCandidate[c][k]);
            }
            method.fold(1, "agent" + k, Contribution.newBuilder().setTaskId("t").setCandidateLosses(l).build());
        }
        RoundSummary summary = method.closeRound(1, id -> null);
        assertEquals(1, ((AbnsPhase.SelectionSummary) summary.detail()).selectedCandidate());
        assertEquals("uniform", ((AbnsPhase.SelectionSummary) summary.detail()).selectedAllocation());
        // Training starts from candidate 1 with its aggregated BatchNorm statistics.
        Map<String, SparseTensor> global = decode(globalWeights(2));
        assertArrayEquals(new float[] {4, 4}, global.get("bn0.runningMean").toDense(), 1e-6f);
        assertArrayEquals(new float[] {2.5f, 2.5f}, global.get("bn0.runningVar").toDense(), 1e-6f);
        var candidate1 = MaskSet.parseFrom(artifacts.read(task.getTraining().getCandidates(1).getMaskArtifactId()));
        assertEquals(candidate1, MaskSet.parseFrom(artifacts.read(method.taskTemplate(2).getTraining().getMaskArtifactId())));
    }

    @Test
    void fedMefStartsFromARandomMaskWithErkCountsPerLayerDrawnBySeed() {
        java.util.List<dev.fedprune.aggregation.sparsetrain.LayerShape> layers =
                dev.fedprune.aggregation.sparsetrain.CnnLayout.smallVgg(1, 28, new int[] {4, 8}, 10).sparseLayers();
        var densities = dev.fedprune.aggregation.sparsetrain.DensityAllocation.erk(layers, 0.2);
        int[] counts = dev.fedprune.aggregation.sparsetrain.DensityAllocation.keptCounts(layers, densities,
                dev.fedprune.aggregation.sparsetrain.DensityAllocation.budget(layers, 0.2));
        Map<String, BitMask> a = GlobalModel.randomErkMasks(layers, 0.2, 1);
        Map<String, BitMask> b = GlobalModel.randomErkMasks(layers, 0.2, 1);
        Map<String, BitMask> c = GlobalModel.randomErkMasks(layers, 0.2, 2);
        assertEquals(a, b, "same seed, same mask");
        for (int l = 0; l < layers.size(); l++) {
            String name = layers.get(l).name();
            assertEquals(counts[l], a.get(name).cardinality(), name);
        }
        assertTrue(!a.equals(c), "another seed draws other positions");
        // Random, not by magnitude: the kept positions of the first layer are spread over the whole tensor.
        BitMask first = a.get(layers.get(0).name());
        long firstHalf = first.cardinality(0, first.length() / 2);
        assertTrue(firstHalf > 0 && firstHalf < first.cardinality(), "kept weights in both halves: " + firstHalf + " of " + first.cardinality());
    }

    @Test
    void fedMefJobTrainsTheBatchNormFreeNsConvVggWithSapOnEveryTrainingTask() throws Exception {
        String fedmefSpec = SPEC.replace("variant: fedtiny_no_abns\n", "variant: fedmef\n").replace("blocks: 1\n", "");
        method = create(JobSpecParser.parse(fedmefSpec), dir.resolve("fedmef"), artifacts);
        // The manifest: NSConv's per-channel gain and bias are dense tensors; there is no BatchNorm tensor at all.
        List<String> names = method.manifest().tensors().stream().map(t -> t.name()).toList();
        assertEquals(List.of("conv0.weight", "conv1.weight", "fc.weight", "conv0.gain", "conv0.bias", "conv1.gain", "conv1.bias", "fc.bias"), names);
        assertEquals("nsconv_vgg", method.manifest().architecture());
        assertTrue(names.stream().noneMatch(n -> n.startsWith("bn") || n.contains("running") || n.endsWith(".gamma") || n.endsWith(".beta")), names.toString());
        float[] gain = decode(globalWeights(0)).get("conv0.gain").toDense();
        assertArrayEquals(new float[] {(float) dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation.RELU_GAIN,
            (float) dev.fedprune.aggregation.sparsetrain.fedmef.WeightStandardisation.RELU_GAIN}, gain);

        assertEquals(5, method.totalRounds(), "no ABNS rounds: 4 training rounds and the evaluation");
        for (int r = 0; r < 4; r++) {
            var training = method.taskTemplate(r).getTraining();
            assertEquals(0.5, training.getSapGamma(), "round " + r);
            assertEquals(dev.fedprune.proto.v1.CnnArchitecture.CNN_ARCHITECTURE_NSCONV_VGG, training.getModel().getArchitecture());
            assertEquals(List.of(2, 4), training.getModel().getChannelsList());
            assertEquals(r == 2 ? 0.01 : 0.0, training.getExtrusionLambda(), "extrusion only in the adjustment round, round " + r);
        }
        assertEquals(3, method.taskTemplate(2).getTraining().getTopKCount(), "FedMef adjusts every layer");

        // Rounds run and the model is written without any BatchNorm state: a normal round, the adjustment, the evaluation.
        for (int r = 0; r < 2; r++) {
            method.openRound(r);
            method.fold(r, "a", upload(r, 1f, 100));
            method.closeRound(r, id -> null);
        }
        Map<String, BitMask> keep = keepMasks(2);
        TopKGradients.Builder grads = TopKGradients.newBuilder();
        for (var req : method.taskTemplate(2).getTraining().getTopKList()) {
            BitMask m = keep.get(req.getTensorName());
            int[] idx = new int[req.getK()];
            float[] val = new float[req.getK()];
            for (int i = 0, j = 0; i < m.length() && j < idx.length; i++) {
                if (!m.get(i)) {
                    idx[j] = i;
                    val[j++] = 1f + j;
                }
            }
            grads.addTensors(SparseTensorWire.encode(req.getTensorName(), new SparseTensor(m.length(), idx, val)));
        }
        method.openRound(2);
        method.fold(2, "a", upload(2, 1f, 100).toBuilder().setTopKGradients(grads).build());
        assertEquals(true, ((TrainingPhase.Summary) method.closeRound(2, id -> null).detail()).maskChanged());
        method.openRound(3);
        method.fold(3, "a", upload(3, 1f, 100));
        method.closeRound(3, id -> null);
        method.openRound(4);
        method.fold(4, "a", Contribution.newBuilder().setTaskId("e")
                .setPriorModelQuality(ModelQuality.newBuilder().setMetric("accuracy").setValue(0.4).setSamples(10)).build());
        method.closeRound(4, id -> null);
        SparseTrainingMethod.SparseTrainingReport report = method.finish(dir.resolve("fedmef-result"));
        assertEquals("fedmef", report.variant());
        assertEquals(0.4, report.finalAccuracy(), 1e-12);
        String config = java.nio.file.Files.readString(dir.resolve("fedmef-result/model/config.json"));
        assertTrue(config.contains("\"architecture\" : \"nsconv_vgg\"") && config.contains("\"channels\" : [ 2, 4 ]"), config);

        SparseTrainingMethod restarted = create(JobSpecParser.parse(fedmefSpec), dir.resolve("fedmef"), artifacts);
        restarted.restoreClosedRounds(5);
        assertEquals(method.density(), restarted.density());

        // fedmef_no_sap: the same CNN, no activation pruning.
        SparseTrainingMethod noSap = create(JobSpecParser.parse(fedmefSpec.replace("variant: fedmef", "variant: fedmef_no_sap")),
                dir.resolve("no-sap"), artifacts);
        for (int r = 0; r < 4; r++) {
            assertEquals(0.0, noSap.taskTemplate(r).getTraining().getSapGamma(), "round " + r);
            assertEquals(dev.fedprune.proto.v1.CnnArchitecture.CNN_ARCHITECTURE_NSCONV_VGG, noSap.taskTemplate(r).getTraining().getModel().getArchitecture());
        }
        assertEquals(0.01, noSap.taskTemplate(2).getTraining().getExtrusionLambda(), "fedmef_no_sap still extrudes");
    }

    @Test
    void baselinesNeverAdjust() throws Exception {
        String base = SPEC.replace("variant: fedtiny_no_abns\n", "").replace("blocks: 1\n", "");
        SparseTrainingMethod dense = create(JobSpecParser.parse(base.replace("density: 0.5", "variant: dense_fedavg")),
                dir.resolve("dense"), artifacts);
        SparseTrainingMethod fixed = create(JobSpecParser.parse(base.replace("density: 0.5", "variant: static_sparse\ndensity: 0.5")),
                dir.resolve("static"), artifacts);
        assertEquals(1.0, dense.density());
        assertEquals(125.0 / 250, fixed.density(), 1e-12, "ERK keeps exactly the budget of 0.5");
        for (SparseTrainingMethod m : List.of(dense, fixed)) {
            assertEquals(5, m.totalRounds());
            for (int r = 0; r < 4; r++) {
                Task.Builder t = m.taskTemplate(r);
                assertEquals(TaskKind.TASK_KIND_SPARSE_UPDATE, t.getKind(), "round " + r);
                assertEquals(TrainingRoundMode.TRAINING_ROUND_MODE_NORMAL, t.getTraining().getMode(), "round " + r);
                assertEquals(0, t.getTraining().getTopKCount());
            }
            assertEquals(TaskKind.TASK_KIND_EVALUATION, m.taskTemplate(4).getKind());
        }
    }
}
