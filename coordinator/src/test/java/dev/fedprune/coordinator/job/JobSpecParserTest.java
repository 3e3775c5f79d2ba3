package dev.fedprune.coordinator.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.sparsetrain.BnPooling;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.proto.v1.PruneMethod;
import org.junit.jupiter.api.Test;

class JobSpecParserTest {

    @Test
    void readsYamlWithDefaults() {
        JobSpec job = JobSpecParser.parse("model: /m\nsparsity: 0.6\ncomparisonGroup: row\n");
        FedPrLlmSpec spec = job.method(FedPrLlmSpec.class);
        assertEquals("/m", spec.modelPath());
        assertEquals(0.6, spec.sparsityRatio());
        assertEquals(ComparisonGroup.ROW, spec.comparisonGroup());
        assertEquals(PruneMethod.PRUNE_METHOD_WANDA, spec.localPruner());
        assertTrue(spec.localPerRow());
        assertEquals(job.agentsPerRound(), job.quorum());
    }

    @Test
    void readsJsonAndRoundTripsThroughCanonicalJson() {
        JobSpec spec = JobSpecParser.parse("{\"model\": \"/m\", \"sparsity\": 0.5, \"pattern\": \"2:4\", \"strategy\": \"iterative\", \"agentsPerRound\": 4, \"quorum\": 3, \"seed\": 9}");
        assertEquals(2, spec.method(FedPrLlmSpec.class).nmN());
        assertEquals(4, spec.method(FedPrLlmSpec.class).nmM());
        assertEquals(spec, JobSpecParser.parse(JobSpecParser.toJson(spec)));
    }

    static void assertRejected(String spec, String field, String fragment) {
        InvalidJobSpecException e = assertThrows(InvalidJobSpecException.class, () -> JobSpecParser.parse(spec));
        assertEquals(field, e.field());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void rejectsBadFieldsByName() {
        assertRejected("sparsity: 0.5", "model", "required");
        assertRejected("model: /m\nsparsity: 1.5", "sparsity", "[0, 1)");
        assertRejected("model: /m\nsparsity: 0.5\ncomparisonGroup: diagonal", "comparisonGroup", "layer, row, column");
        assertRejected("model: /m\nsparsity: 0.5\npattern: 2-4", "pattern", "N:M");
        assertRejected("model: /m\nsparsity: 0.6\npattern: 2:4", "sparsity", "0.5");
        assertRejected("model: /m\nsparsity: 0.5\nagentsPerRound: 2\nquorum: 3", "quorum", "[1, 2]");
        assertRejected("model: /m\nsparsity: 0.5\nspeed: fast", "speed", "unknown field");
        assertRejected("model: /m\nsparsity: 0.5\nmethod: fedavg", "method", "fedprllm, fedspallm or sparse_training");
        assertRejected("model: /m\nsparsity: 0.5\nvariant: fedtiny", "variant", "only for method: sparse_training");
        assertRejected("model: [unclosed", "spec", "not valid YAML");
        assertRejected("- a\n- b", "spec", "mapping");
    }

    @Test
    void readsRoundAttemptsAndOverSelectionForBothMethodsAndRoundTripsThem() {
        JobSpec plain = JobSpecParser.parse("model: /m\nsparsity: 0.5\n");
        assertEquals(1, plain.roundAttempts(), "by default a missed quorum fails the job, as before");
        assertEquals(0, plain.overSelectedAgents());
        JobSpec spec = JobSpecParser.parse("model: /m\nsparsity: 0.5\nagentsPerRound: 4\nroundAttempts: 3\noverSelectedAgents: 2\n");
        assertEquals(3, spec.roundAttempts());
        assertEquals(2, spec.overSelectedAgents());
        assertEquals(spec, JobSpecParser.parse(JobSpecParser.toJson(spec)));
        JobSpec training = JobSpecParser.parse(SPARSE + "density: 0.1\nagentsPerRound: 3\nroundAttempts: 10\noverSelectedAgents: 3\n");
        assertEquals(10, training.roundAttempts());
        assertEquals(3, training.overSelectedAgents());
        assertEquals(training, JobSpecParser.parse(JobSpecParser.toJson(training)));
    }

    @Test
    void rejectsBadRoundAttemptsAndOverSelectionByName() {
        assertRejected("model: /m\nsparsity: 0.5\nroundAttempts: 0", "roundAttempts", "expected a whole number in [1, 10], got 0");
        assertRejected("model: /m\nsparsity: 0.5\nroundAttempts: 11", "roundAttempts", "[1, 10]");
        assertRejected("model: /m\nsparsity: 0.5\nroundAttempts: 1.5", "roundAttempts", "[1, 10]");
        assertRejected(SPARSE + "density: 0.1\nroundAttempts: many", "roundAttempts", "expected a number, got 'many'");
        assertRejected("model: /m\nsparsity: 0.5\nagentsPerRound: 2\noverSelectedAgents: 3", "overSelectedAgents",
                "expected a whole number in [0, 2] (at most agentsPerRound extra agents), got 3");
        assertRejected("model: /m\nsparsity: 0.5\noverSelectedAgents: -1", "overSelectedAgents", "[0, 2]");
        assertRejected(SPARSE + "density: 0.1\nagentsPerRound: 1\noverSelectedAgents: 2", "overSelectedAgents", "[0, 1]");
    }

    private static final String SPARSE = "method: sparse_training\n";

    @Test
    void readsSparseTrainingSpecWithDefaultsAndRoundTripsThroughCanonicalJson() {
        JobSpec spec = JobSpecParser.parse(SPARSE + "density: 0.1\nrounds: 30\nchannels: [8, 16]\nagentsPerRound: 10\nseed: 3\n");
        assertEquals(SparseTrainingSpec.NAME, spec.methodName());
        SparseTrainingSpec t = spec.method(SparseTrainingSpec.class);
        assertEquals(SparseTrainingSpec.Variant.FEDTINY, t.variant());
        assertEquals(SparseTrainingSpec.Architecture.SMALL_VGG, t.architecture());
        assertArrayEquals(new int[] {8, 16}, t.channels());
        assertEquals(0.1, t.density());
        assertEquals(29, t.adjustStopRound());
        assertEquals(2, t.blocks());
        assertEquals(5, t.candidates());
        assertEquals(BnPooling.PLAIN, t.bnPooling());
        assertEquals(10, spec.agentsPerRound());
        assertEquals(spec, JobSpecParser.parse(JobSpecParser.toJson(spec)));

        JobSpec dense = JobSpecParser.parse(SPARSE + "variant: dense_fedavg\narchitecture: resnet18\nwidth: 8\n");
        assertEquals(1.0, dense.method(SparseTrainingSpec.class).density());
        assertEquals(1, dense.method(SparseTrainingSpec.class).effectiveBlocks());
        assertEquals(dense, JobSpecParser.parse(JobSpecParser.toJson(dense)));
        assertEquals(FedPrLlmSpec.NAME, JobSpecParser.parse("model: /m\nsparsity: 0.5\nmethod: fedprllm").methodName());
    }

    @Test
    void readmeSparseTrainingExampleParses() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
        int start = readme.indexOf("```yaml\nname: fedtiny-fmnist");
        String yaml = readme.substring(start + 8, readme.indexOf("```", start + 8));
        JobSpec spec = JobSpecParser.parse(yaml);
        assertEquals(SparseTrainingSpec.Variant.FEDTINY, spec.method(SparseTrainingSpec.class).variant());
        assertEquals(0.1, spec.method(SparseTrainingSpec.class).density());
        assertEquals(10, spec.agentsPerRound());
    }

    @Test
    void rejectsBadSparseTrainingFieldsByName() {
        assertRejected(SPARSE + "density: 0", "density", "(0, 1]");
        assertRejected(SPARSE + "density: 1.2", "density", "(0, 1]");
        assertRejected(SPARSE + "variant: static_sparse", "density", "required for static_sparse");
        assertRejected(SPARSE + "variant: dense_fedavg\ndensity: 0.5", "density", "dense_fedavg");
        assertRejected(SPARSE + "variant: fedsparse\ndensity: 0.1", "variant", "dense_fedavg, static_sparse, fedtiny");
        assertRejected(SPARSE + "density: 0.1\narchitecture: vgg19", "architecture", "small_vgg, resnet18, nsconv_vgg");
        assertRejected(SPARSE + "density: 0.1\nsparsity: 0.9", "sparsity", "belongs to fedprllm");
        assertRejected(SPARSE + "density: 0.1\nmodel: /m", "model", "belongs to fedprllm");
        assertRejected(SPARSE + "density: 0.1\nepochs: 3", "epochs", "unknown field");
        assertRejected(SPARSE + "density: 0.1\nchannels: [8, 0]", "channels[1]", "[1, 4096]");
        assertRejected(SPARSE + "density: 0.1\nchannels: [8, x]", "channels[1]", "whole number");
        assertRejected(SPARSE + "density: 0.1\narchitecture: resnet18\nchannels: [8]", "channels", "only for architecture small_vgg");
        assertRejected(SPARSE + "density: 0.1\nwidth: 8", "width", "only for architecture resnet18");
        assertRejected(SPARSE + "density: 0.1\nchannels: [4, 4, 4, 4, 4, 4]", "channels", "too small");
        assertRejected(SPARSE + "density: 0.1\nvariant: static_sparse\nblocks: 2", "blocks", "no progressive schedule");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedtiny_no_abns\ncandidates: 3", "candidates", "no adaptive BN selection");
        assertRejected(SPARSE + "density: 0.1\nchannels: [8]\nblocks: 3", "blocks", "at most one block per layer");
        assertRejected(SPARSE + "density: 0.1\nlearningRate: -1", "learningRate", "> 0");
        assertRejected(SPARSE + "density: 0.1\nextrusionLambda: 0.1", "extrusionLambda", "only fedmef");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef_no_bae\nextrusionLambda: 0.1", "extrusionLambda", "only fedmef");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nextrusionLambda: 0", "extrusionLambda", "> 0");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nblocks: 2", "blocks", "no progressive schedule");
        JobSpec fedmef = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef\n");
        assertEquals(0.01, fedmef.method(SparseTrainingSpec.class).extrusionLambda());
        assertEquals(fedmef, JobSpecParser.parse(JobSpecParser.toJson(fedmef)));
        assertRejected(SPARSE + "density: 0.1\nlocalSteps: 0", "localSteps", "[1, 1000000]");
        assertRejected(SPARSE + "density: 0.1\nlocalSteps: -5", "localSteps", "[1, 1000000]");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nextrusionLambda: -0.01", "extrusionLambda", "finite number > 0");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nextrusionLambda: NaN", "extrusionLambda", "finite number > 0");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nextrusionLambda: Infinity", "extrusionLambda", "finite number > 0");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef\nextrusionLambda: lots", "extrusionLambda", "expected a number");
        assertRejected(SPARSE + "density: 0.1\nadjustAlpha: 2", "adjustAlpha", "(0, 1]");
        assertRejected(SPARSE + "density: 0.1\nrounds: 0", "rounds", "[1, 1000000]");
        assertRejected(SPARSE + "density: 0.1\nbatchSize: 2.5", "batchSize", "whole number");
        assertRejected(SPARSE + "density: 0.1\nbnPooling: median", "bnPooling", "plain, exact");
    }

    @Test
    void readsMomentumWeightDecayAndLocalEpochsAndRoundTripsThem() {
        SparseTrainingSpec plain = JobSpecParser.parse(SPARSE + "density: 0.1\n").method(SparseTrainingSpec.class);
        assertEquals(0.0, plain.momentum());
        assertEquals(0.0, plain.weightDecay());
        assertEquals(0, plain.localEpochs());
        assertEquals(10, plain.localSteps());

        JobSpec spec = JobSpecParser.parse(SPARSE + "density: 0.02\nlocalEpochs: 1\nmomentum: 0.9\nweightDecay: 0.0005\nlearningRate: 0.01\n");
        SparseTrainingSpec t = spec.method(SparseTrainingSpec.class);
        assertEquals(1, t.localEpochs());
        assertEquals(0.9, t.momentum());
        assertEquals(0.0005, t.weightDecay());
        String json = JobSpecParser.toJson(spec);
        assertTrue(json.contains("\"localEpochs\":1") && !json.contains("localSteps"), json);
        assertEquals(t, JobSpecParser.parse(json).method(SparseTrainingSpec.class));
    }

    @Test
    void rejectsBadOptimizerSettingsByName() {
        String sparse = SPARSE + "density: 0.1\n";
        assertRejected(sparse + "momentum: 1", "momentum", "[0, 1)");
        assertRejected(sparse + "momentum: -0.1", "momentum", "[0, 1)");
        assertRejected(sparse + "momentum: NaN", "momentum", "[0, 1)");
        assertRejected(sparse + "momentum: fast", "momentum", "expected a number");
        assertRejected(sparse + "weightDecay: -1e-4", "weightDecay", "finite number >= 0");
        assertRejected(sparse + "weightDecay: Infinity", "weightDecay", "finite number >= 0");
        assertRejected(sparse + "localEpochs: 0", "localEpochs", "[1, 10000]");
        assertRejected(sparse + "localEpochs: 1.5", "localEpochs", "whole number");
        assertRejected(sparse + "localEpochs: 1\nlocalSteps: 20", "localEpochs", "not both");
    }

    @Test
    void fedMefDefaultsToTheNsConvVggWithTheLibrarysSapRatio() {
        JobSpec fedmef = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef\nchannels: [8, 16]\n");
        SparseTrainingSpec t = fedmef.method(SparseTrainingSpec.class);
        assertEquals(SparseTrainingSpec.Architecture.NSCONV_VGG, t.architecture());
        assertArrayEquals(new int[] {8, 16}, t.channels());
        assertEquals(0.5, t.sapGamma());
        assertEquals(0.01, t.extrusionLambda());
        assertEquals(fedmef, JobSpecParser.parse(JobSpecParser.toJson(fedmef)));
        assertTrue(JobSpecParser.toJson(fedmef).contains("\"sapGamma\":0.5"), JobSpecParser.toJson(fedmef));

        SparseTrainingSpec noBae = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef_no_bae\nsapGamma: 0.8\n").method(SparseTrainingSpec.class);
        assertEquals(SparseTrainingSpec.Architecture.NSCONV_VGG, noBae.architecture());
        assertEquals(0.8, noBae.sapGamma());
        assertEquals(0.0, noBae.extrusionLambda());
        assertEquals(0.5, JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef_no_bae\n").method(SparseTrainingSpec.class).sapGamma());

        JobSpec noSap = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef_no_sap\nextrusionLambda: 0.05\n");
        assertEquals(SparseTrainingSpec.Architecture.NSCONV_VGG, noSap.method(SparseTrainingSpec.class).architecture());
        assertEquals(0.0, noSap.method(SparseTrainingSpec.class).sapGamma());
        assertEquals(0.05, noSap.method(SparseTrainingSpec.class).extrusionLambda(), "fedmef_no_sap still extrudes");
        assertTrue(noSap.method(SparseTrainingSpec.class).variant().randomInitialMask() && noSap.method(SparseTrainingSpec.class).variant().adjustsMask()
                && !noSap.method(SparseTrainingSpec.class).variant().progressive() && !noSap.method(SparseTrainingSpec.class).variant().selectsCandidate());
        assertEquals(noSap, JobSpecParser.parse(JobSpecParser.toJson(noSap)));
        assertEquals(0.0, JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef_no_sap\nsapGamma: 0\n").method(SparseTrainingSpec.class).sapGamma());

        // FedMef on a BatchNorm CNN: only without SAP.
        JobSpec onSmallVgg = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: fedmef\narchitecture: small_vgg\nsapGamma: 0\n");
        assertEquals(SparseTrainingSpec.Architecture.SMALL_VGG, onSmallVgg.method(SparseTrainingSpec.class).architecture());
        assertEquals(0.0, onSmallVgg.method(SparseTrainingSpec.class).sapGamma());
        assertEquals(onSmallVgg, JobSpecParser.parse(JobSpecParser.toJson(onSmallVgg)));

        // The other variants keep their architecture and have no SAP; nsconv_vgg is open to the variants without ABNS.
        SparseTrainingSpec tiny = JobSpecParser.parse(SPARSE + "density: 0.1\n").method(SparseTrainingSpec.class);
        assertEquals(SparseTrainingSpec.Architecture.SMALL_VGG, tiny.architecture());
        assertEquals(0.0, tiny.sapGamma());
        assertEquals(0.0, JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: static_sparse\nsapGamma: 0\n").method(SparseTrainingSpec.class).sapGamma());
        JobSpec staticNs = JobSpecParser.parse(SPARSE + "density: 0.1\nvariant: static_sparse\narchitecture: nsconv_vgg\n");
        assertEquals(SparseTrainingSpec.Architecture.NSCONV_VGG, staticNs.method(SparseTrainingSpec.class).architecture());
        assertEquals(staticNs, JobSpecParser.parse(JobSpecParser.toJson(staticNs)));
        assertTrue(!JobSpecParser.toJson(staticNs).contains("sapGamma"), "only FedMef jobs carry sapGamma");
    }

    @Test
    void rejectsBadSapGammaAndArchitectureCombinationsByName() {
        String fedmef = SPARSE + "density: 0.1\nvariant: fedmef\n";
        assertRejected(fedmef + "sapGamma: half", "sapGamma", "expected a number, got 'half'");
        assertRejected(fedmef + "sapGamma: NaN", "sapGamma", "fraction in [0, 1)");
        assertRejected(fedmef + "sapGamma: 1", "sapGamma", "fraction in [0, 1)");
        assertRejected(fedmef + "sapGamma: 1.5", "sapGamma", "fraction in [0, 1)");
        assertRejected(fedmef + "sapGamma: Infinity", "sapGamma", "got Infinity");
        assertRejected(fedmef + "sapGamma: -0.1", "sapGamma", "expected a fraction in [0, 1)");
        assertRejected(fedmef + "sapGamma: [0.5]", "sapGamma", "expected a number, got '[0.5]'");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef_no_sap\nsapGamma: 0.5", "sapGamma",
                "fedmef_no_sap is FedMef without scaled activation pruning; leave sapGamma out or set it to 0, got 0.5");
        assertRejected(SPARSE + "density: 0.1\nsapGamma: 0.5", "sapGamma", "fedtiny has no scaled activation pruning; only fedmef and fedmef_no_bae");
        assertRejected(SPARSE + "density: 0.1\nvariant: static_sparse\narchitecture: nsconv_vgg\nsapGamma: 0.3", "sapGamma",
                "static_sparse has no scaled activation pruning");
        assertRejected(SPARSE + "variant: dense_fedavg\nsapGamma: 0.1", "sapGamma", "dense_fedavg has no scaled activation pruning");
        // SAP is only implemented for nsconv_vgg: a given or a default gamma on another CNN is refused.
        assertRejected(fedmef + "architecture: small_vgg\nsapGamma: 0.5", "sapGamma", "only implemented for architecture nsconv_vgg");
        assertRejected(fedmef + "architecture: small_vgg", "sapGamma", "sapGamma 0.5 (the fedmef default) with architecture small_vgg");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef_no_bae\narchitecture: resnet18", "sapGamma", "with architecture resnet18");
        // ABNS needs BatchNorm.
        assertRejected(SPARSE + "density: 0.1\narchitecture: nsconv_vgg", "architecture", "fedtiny selects its initial mask by adaptive BN selection");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedtiny_no_progressive\narchitecture: nsconv_vgg", "architecture",
                "nsconv_vgg has none");
        assertRejected(fedmef + "width: 8", "width", "only for architecture resnet18; nsconv_vgg takes channels");
        assertRejected(fedmef + "channels: [4, 4, 4, 4, 4, 4]", "channels", "no nsconv_vgg for these images");
        assertRejected(fedmef + "extrusionLambda: 0", "extrusionLambda", "> 0");
        assertRejected(SPARSE + "density: 0.1\nvariant: fedmef_no_sap\nextrusionLambda: -1", "extrusionLambda", "> 0");
    }

    @Test
    void parsesSpecsStoredByTheCoordinatorBeforeMethodsWereProviders() {
        // As JobSpecParser.toJson wrote them when JobSpec held every method's fields: jobs resume from this at restart.
        JobSpec fedprllm = JobSpecParser.parse("{\"name\":\"j\",\"model\":\"/m\",\"method\":\"fedprllm\",\"strategy\":\"iterative\","
                + "\"localPruner\":\"sparsegpt\",\"localComparisonGroup\":\"row\",\"sparsity\":0.5,\"pattern\":\"2:4\","
                + "\"comparisonGroup\":\"row\",\"weightScaling\":true,\"tieBreak\":\"lowest-index\",\"agentsPerRound\":4,\"quorum\":3,"
                + "\"deadlineSeconds\":60,\"waitForAgentsSeconds\":0,\"calibrationSamples\":16,\"sequenceLength\":128,\"seed\":9,"
                + "\"sparsityTolerance\":0.05,\"voteWeighting\":\"samples\",\"trimFraction\":0.25,\"evaluationSamples\":8,"
                + "\"roundAttempts\":2,\"overSelectedAgents\":1}");
        FedPrLlmSpec f = fedprllm.method(FedPrLlmSpec.class);
        assertEquals(PruneMethod.PRUNE_METHOD_SPARSEGPT, f.localPruner());
        assertEquals(FedPrLlmSpec.Strategy.ITERATIVE, f.strategy());
        assertTrue(f.weightVotesBySamples() && f.weightScaling());
        assertEquals(8, f.evaluationSamples());
        assertEquals(9, fedprllm.seed());
        assertEquals(1, fedprllm.overSelectedAgents());
        assertEquals(fedprllm, JobSpecParser.parse(JobSpecParser.toJson(fedprllm)));
        JobSpec training = JobSpecParser.parse("{\"name\":\"t\",\"method\":\"sparse_training\",\"variant\":\"fedtiny\","
                + "\"architecture\":\"small_vgg\",\"channels\":[8,16],\"imageChannels\":1,\"imageSide\":28,\"classes\":10,"
                + "\"density\":0.1,\"rounds\":3,\"localSteps\":10,\"batchSize\":64,\"learningRate\":0.1,\"momentum\":0.0,"
                + "\"weightDecay\":0.0,\"adjustAlpha\":0.2,\"adjustInterval\":10,\"adjustStopRound\":2,\"blocks\":2,\"candidates\":5,"
                + "\"bnPooling\":\"plain\",\"evaluationImages\":0,\"agentsPerRound\":2,\"quorum\":2,\"deadlineSeconds\":600,"
                + "\"waitForAgentsSeconds\":0,\"seed\":3,\"roundAttempts\":1,\"overSelectedAgents\":0}");
        assertArrayEquals(new int[] {8, 16}, training.method(SparseTrainingSpec.class).channels());
        assertEquals(training, JobSpecParser.parse(JobSpecParser.toJson(training)));
    }

    @Test
    void methodsAreFoundOnTheClassPathAndAFieldOfAnotherMethodIsNamedAsSuch() {
        assertEquals(java.util.List.of("fedprllm", "fedspallm", "sparse_training"), dev.fedprune.coordinator.method.MethodRegistry.names());
        assertRejected(SPARSE + "density: 0.1\nlocalPruner: wanda", "localPruner", "only for method: fedprllm");
        assertRejected("model: /m\nsparsity: 0.5\nlocalPruner: obs", "localPruner", "expected one of magnitude, wanda, sparsegpt, got 'obs'");
    }

    static final String SPALLM = "method: fedspallm\nmodel: /m\n";

    @Test
    void readsAFedSpaLlmSpecWithItsDefaultsAndWritesItBack() {
        JobSpec job = JobSpecParser.parse(SPALLM + "sparsity: 0.6\nagentsPerRound: 4\nseed: 3");
        FedSpaLlmSpec spec = job.method(FedSpaLlmSpec.class);
        assertEquals(new FedSpaLlmSpec("/m", 0.6, ComparisonGroup.LAYER, 1, 0, 0, 0.05), spec);
        assertEquals(job, JobSpecParser.parse(JobSpecParser.toJson(job)));
        JobSpec full = JobSpecParser.parse(SPALLM + "sparsity: 0.5\nlocalPruner: sparsegpt\npattern: unstructured\ncomparisonGroup: row\n"
                + "minLayerCoverage: 2\ncalibrationSamples: 16\nsequenceLength: 64\nsparsityTolerance: 0.1");
        assertEquals(new FedSpaLlmSpec("/m", 0.5, ComparisonGroup.ROW, 2, 16, 64, 0.1), full.method(FedSpaLlmSpec.class));
        assertEquals(full, JobSpecParser.parse(JobSpecParser.toJson(full)));
    }

    @Test
    void refusesBadFedSpaLlmFieldsByNameWithWhatWasExpected() {
        assertRejected("method: fedspallm\nsparsity: 0.5", "model", "required: the model directory");
        assertRejected(SPALLM, "sparsity", "required, a fraction in [0, 1), got null");
        assertRejected(SPALLM + "sparsity: 1", "sparsity", "a fraction in [0, 1), got 1");
        assertRejected(SPALLM + "sparsity: 0.5\nlocalPruner: wanda", "localPruner", "expected sparsegpt");
        assertRejected(SPALLM + "sparsity: 0.5\npattern: 2:4", "pattern", "expected unstructured");
        assertRejected(SPALLM + "sparsity: 0.5\ncomparisonGroup: block", "comparisonGroup", "expected one of layer, row, column, got 'block'");
        assertRejected(SPALLM + "sparsity: 0.5\nminLayerCoverage: 0", "minLayerCoverage", "expected a whole number in [1, 100000], got 0");
        assertRejected(SPALLM + "sparsity: 0.5\ncalibrationSamples: -1", "calibrationSamples", "expected a whole number in [0, 1000000]");
        assertRejected(SPALLM + "sparsity: 0.5\nsparsityTolerance: 2", "sparsityTolerance", "expected a fraction in [0, 1], got 2");
        assertRejected(SPALLM + "sparsity: 0.5\nstrategy: iterative", "strategy", "only for method: fedprllm");
        assertRejected(SPALLM + "sparsity: 0.5\nevaluationSamples: 8", "evaluationSamples", "only for method: fedprllm");
        assertRejected(SPALLM + "sparsity: 0.5\ndensity: 0.1", "density", "only for method: sparse_training");
    }
}
