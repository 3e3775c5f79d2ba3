package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.sparsetrain.BnPooling;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The parameters of a federated sparse training job ({@code method: sparse_training}), after
 * validation: which variant, which CNN, how long and how agents train, and FedTiny's schedule.
 *
 * @param variant          dense FedAvg, static sparse training, FedTiny or one of its ablations
 * @param architecture     the CNN every agent builds
 * @param channels         small VGG and NSConv VGG: output channels of each block
 * @param width            ResNet-18: base width
 * @param density          target fraction of sparse-layer weights kept, in (0, 1] (1 for dense FedAvg)
 * @param rounds           training rounds {@code R} (ABNS and the final evaluation come on top)
 * @param localSteps       SGD steps (mini-batches) per agent and round, unless {@code localEpochs} is set
 * @param localEpochs      passes over each agent's training images per round ({@code ⌊n/batchSize⌋} full batches each,
 *                         at least one); 0 = count {@code localSteps} instead
 * @param momentum         SGD momentum in [0, 1) (0 = plain SGD); the buffer starts at 0 in every task
 * @param weightDecay      L2 weight decay {@code >= 0}, added to the gradient of active weights and dense parameters
 * @param adjustAlpha      {@code α} of the cosine decay: {@code k_ℓ = ⌊f_decay(t)·|active_ℓ|⌋} is the top-K size
 * @param adjustInterval   {@code ΔT}: rounds between adjustments
 * @param adjustStopRound  {@code T_end}: the last round that may adjust
 * @param blocks           {@code J}: blocks of the progressive schedule (FedTiny without progressive pruning: 1)
 * @param candidates       {@code C}: size of the ABNS candidate pool
 * @param bnPooling        how ABNS aggregates BatchNorm variances
 * @param evaluationImages held-out images each agent evaluates for the quality it reports (0 = all)
 * @param extrusionLambda  FedMef: {@code λ} of budget-aware extrusion in adjustment rounds (0 for every other variant)
 * @param sapGamma         FedMef: {@code γ} of scaled activation pruning, the fraction of each cached activation the agents
 *                         drop, in [0, 1) (0: no activation pruning; always 0 for fedmef_no_sap and the non-FedMef variants)
 * @param robustAggregation how the agents' models are combined against poisoning: trimmed mean or median per coordinate,
 *                         update clipping, a cap on sample_count weights; null for plain sample-weighted sparse FedAvg
 */
public record SparseTrainingSpec(Variant variant, Architecture architecture, int[] channels, int width, int imageChannels,
                                 int imageSide, int classes, double density, int rounds, int localSteps, int batchSize,
                                 double learningRate, double adjustAlpha, int adjustInterval, int adjustStopRound, int blocks,
                                 int candidates, BnPooling bnPooling, int evaluationImages, double extrusionLambda,
                                 double sapGamma, int localEpochs, double momentum, double weightDecay,
                                 RobustAggregationSpec robustAggregation) implements MethodSpec {

    public static final String NAME = "sparse_training";

    /** The spec fields of this method, beside the common ones. */
    public static final Set<String> FIELDS = Set.of("variant", "architecture", "channels", "width", "imageChannels",
            "imageSide", "classes", "density", "rounds", "localSteps", "batchSize", "learningRate", "adjustAlpha",
            "adjustInterval", "adjustStopRound", "blocks", "candidates", "bnPooling", "evaluationImages", "extrusionLambda", "sapGamma",
            "localEpochs", "momentum", "weightDecay", RobustAggregationSpec.FIELD);

    public SparseTrainingSpec {
        channels = channels.clone();
    }

    @Override
    public String methodName() {
        return NAME;
    }

    @Override
    public int[] channels() {
        return channels.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparseTrainingSpec s && s.variant == variant && s.architecture == architecture
                && java.util.Arrays.equals(s.channels, channels) && s.width == width && s.imageChannels == imageChannels
                && s.imageSide == imageSide && s.classes == classes && Double.compare(s.density, density) == 0 && s.rounds == rounds
                && s.localSteps == localSteps && s.batchSize == batchSize && Double.compare(s.learningRate, learningRate) == 0
                && Double.compare(s.adjustAlpha, adjustAlpha) == 0 && s.adjustInterval == adjustInterval
                && s.adjustStopRound == adjustStopRound && s.blocks == blocks && s.candidates == candidates
                && s.bnPooling == bnPooling && s.evaluationImages == evaluationImages
                && Double.compare(s.extrusionLambda, extrusionLambda) == 0 && Double.compare(s.sapGamma, sapGamma) == 0
                && s.localEpochs == localEpochs && Double.compare(s.momentum, momentum) == 0
                && Double.compare(s.weightDecay, weightDecay) == 0 && java.util.Objects.equals(s.robustAggregation, robustAggregation);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(variant, architecture, java.util.Arrays.hashCode(channels), width, density, rounds, localSteps, otherFieldsHash());
    }

    private int otherFieldsHash() {
        return java.util.Objects.hash(imageChannels, imageSide, classes, batchSize, learningRate, adjustAlpha, adjustInterval,
                adjustStopRound, blocks, candidates, bnPooling, evaluationImages, extrusionLambda, sapGamma, localEpochs, momentum,
                weightDecay, robustAggregation);
    }

    /**
     * The methods in one engine: baselines, FedTiny and its two ablations, and FedMef's dynamic pruning
     * (random ERK mask, all layers adjusted, budget-aware extrusion and scaled activation pruning on the
     * agents) with its BaE ablation ({@code fedmef_no_bae}) and its SAP ablation ({@code fedmef_no_sap}).
     */
    public enum Variant {
        DENSE_FEDAVG, STATIC_SPARSE, FEDTINY, FEDTINY_NO_ABNS, FEDTINY_NO_PROGRESSIVE, FEDMEF, FEDMEF_NO_BAE, FEDMEF_NO_SAP;

        /** Adaptive BN selection before round 0. */
        public boolean selectsCandidate() {
            return this == FEDTINY || this == FEDTINY_NO_PROGRESSIVE;
        }

        /** Prune-and-grow in adjustment rounds. */
        public boolean adjustsMask() {
            return this != DENSE_FEDAVG && this != STATIC_SPARSE;
        }

        /** FedMef starts from a random keep-mask under ERK densities [P]; the others from the magnitudes of the initial weights. */
        public boolean randomInitialMask() {
            return isFedMef();
        }

        /** FedMef or one of its ablations. */
        public boolean isFedMef() {
            return this == FEDMEF || this == FEDMEF_NO_BAE || this == FEDMEF_NO_SAP;
        }

        /** Budget-aware extrusion on the agents in adjustment rounds. */
        public boolean extrudes() {
            return this == FEDMEF || this == FEDMEF_NO_SAP;
        }

        /** Scaled activation pruning on the agents may be switched on ({@code sapGamma > 0}). */
        public boolean prunesActivations() {
            return this == FEDMEF || this == FEDMEF_NO_BAE;
        }

        /** Block by block (otherwise every sparse layer in every adjustment round). */
        public boolean progressive() {
            return this == FEDTINY || this == FEDTINY_NO_ABNS;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The CNN every agent builds: the small VGG-style CNN with BatchNorm, ResNet-18, or FedMef's
     * BatchNorm-free small VGG of NSConv layers (the only one the agents' scaled activation pruning
     * is implemented for).
     */
    public enum Architecture {
        SMALL_VGG, RESNET18, NSCONV_VGG;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Sized by a list of channels per block (otherwise by a base width). */
        public boolean takesChannels() {
            return this == SMALL_VGG || this == NSCONV_VGG;
        }

        /** Has BatchNorm layers, which adaptive BN selection needs. */
        public boolean hasBatchNorm() {
            return this != NSCONV_VGG;
        }
    }

    /** The layers and tensors of the job's CNN. */
    public CnnLayout layout() {
        return switch (architecture) {
            case SMALL_VGG -> CnnLayout.smallVgg(imageChannels, imageSide, channels, classes);
            case RESNET18 -> CnnLayout.resnet18(imageChannels, imageSide, classes, width);
            case NSCONV_VGG -> CnnLayout.nsConvVgg(imageChannels, imageSide, channels, classes);
        };
    }

    /** Blocks of the progressive schedule this variant actually uses. */
    public int effectiveBlocks() {
        return variant.progressive() ? blocks : 1;
    }

    // ------------------------------------------------------------------ spec format

    /** Reads and checks this method's fields. */
    public static SparseTrainingSpec parse(SpecFields f) {
        Variant variant = f.enumField("variant", Variant.class, "fedtiny");
        // FedMef replaces Conv+BN by NSConv [P], so its variants default to the BatchNorm-free CNN.
        Architecture architecture = f.enumField("architecture", Architecture.class, variant.isFedMef() ? "nsconv_vgg" : "small_vgg");
        if (variant.selectsCandidate() && !architecture.hasBatchNorm()) {
            throw new InvalidJobSpecException("architecture", variant.label() + " selects its initial mask by adaptive BN selection, which needs "
                    + "BatchNorm layers; " + architecture.label() + " has none: use small_vgg or resnet18 (or a variant without ABNS)");
        }
        int[] channels = {16, 32, 64};
        if (f.has("channels")) {
            if (!architecture.takesChannels()) {
                throw new InvalidJobSpecException("channels", "only for architecture small_vgg and nsconv_vgg; resnet18 takes width");
            }
            channels = f.intList("channels", 1, 4096);
        }
        if (f.has("width") && architecture != Architecture.RESNET18) {
            throw new InvalidJobSpecException("width", "only for architecture resnet18; " + architecture.label() + " takes channels");
        }
        int width = f.integer("width", 1, 1024, 64);
        int imageChannels = f.integer("imageChannels", 1, 64, 1);
        int imageSide = f.integer("imageSide", 1, 4096, 28);
        int classes = f.integer("classes", 2, 100_000, 10);
        double density;
        if (variant == Variant.DENSE_FEDAVG) {
            density = f.number("density", 1.0);
            if (density != 1.0) {
                throw new InvalidJobSpecException("density", "dense_fedavg trains the dense model: leave density out or set it to 1, got " + f.raw("density"));
            }
        } else {
            density = f.number("density", Double.NaN);
            if (!(density > 0 && density <= 1)) {
                throw new InvalidJobSpecException("density", "required for " + variant.label() + ", a fraction in (0, 1], got " + f.raw("density"));
            }
        }
        int rounds = f.integer("rounds", 1, 1_000_000, 10);
        if (f.has("localSteps") && f.has("localEpochs")) {
            throw new InvalidJobSpecException("localEpochs", "give either localSteps (mini-batches per round) or localEpochs "
                    + "(passes over each agent's images per round), not both");
        }
        int localSteps = f.integer("localSteps", 1, 1_000_000, 10);
        int localEpochs = f.integer("localEpochs", 1, 10_000, 0);
        double momentum = f.number("momentum", 0);
        if (!(momentum >= 0 && momentum < 1)) {
            throw new InvalidJobSpecException("momentum", "expected SGD momentum in [0, 1) (0 = plain SGD), got " + f.raw("momentum"));
        }
        double weightDecay = f.number("weightDecay", 0);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new InvalidJobSpecException("weightDecay", "expected a finite number >= 0 (0 = no weight decay), got " + f.raw("weightDecay"));
        }
        int batchSize = f.integer("batchSize", 1, 65_536, 64);
        double learningRate = f.number("learningRate", 0.1);
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new InvalidJobSpecException("learningRate", "expected a finite number > 0, got " + f.raw("learningRate"));
        }
        double alpha = f.number("adjustAlpha", 0.2);
        if (!(alpha > 0 && alpha <= 1)) {
            throw new InvalidJobSpecException("adjustAlpha", "expected a fraction in (0, 1], got " + f.raw("adjustAlpha"));
        }
        int interval = f.integer("adjustInterval", 1, 1_000_000, 10);
        int stopRound = f.integer("adjustStopRound", 1, 1_000_000, Math.max(1, rounds - 1));
        int blocks = f.integer("blocks", 1, 10_000, variant.progressive() ? 2 : 1);
        if (blocks != 1 && !variant.progressive()) {
            throw new InvalidJobSpecException("blocks", variant.label() + " has no progressive schedule; leave blocks out or set it to 1, got " + blocks);
        }
        int candidates = f.integer("candidates", 1, 1000, 5);
        if (f.has("candidates") && !variant.selectsCandidate()) {
            throw new InvalidJobSpecException("candidates", variant.label() + " has no adaptive BN selection; only fedtiny and fedtiny_no_progressive take candidates");
        }
        BnPooling pooling = f.enumField("bnPooling", BnPooling.class, "plain");
        int evaluationImages = f.integer("evaluationImages", 0, Integer.MAX_VALUE, 0);
        if (f.has("extrusionLambda") && !variant.extrudes()) {
            throw new InvalidJobSpecException("extrusionLambda", variant.label()
                    + " has no budget-aware extrusion; only fedmef and fedmef_no_sap take extrusionLambda");
        }
        double extrusionLambda = 0;
        if (variant.extrudes()) {
            extrusionLambda = f.number("extrusionLambda", 0.01);
            if (!(extrusionLambda > 0) || Double.isInfinite(extrusionLambda)) {
                throw new InvalidJobSpecException("extrusionLambda", "expected a finite number > 0 (fedmef_no_bae turns extrusion off), got "
                        + f.raw("extrusionLambda"));
            }
        }
        double sapGamma = sapGamma(f, variant, architecture);
        SparseTrainingSpec training = new SparseTrainingSpec(variant, architecture, channels, width, imageChannels, imageSide, classes,
                density, rounds, localSteps, batchSize, learningRate, alpha, interval, stopRound, blocks, candidates, pooling, evaluationImages,
                extrusionLambda, sapGamma, localEpochs, momentum, weightDecay, RobustAggregationSpec.parse(f));
        try {
            int layers = training.layout().sparseLayers().size();
            if (training.effectiveBlocks() > layers) {
                throw new InvalidJobSpecException("blocks", blocks + " blocks for " + layers + " sparse layers of " + architecture.label()
                        + "; at most one block per layer");
            }
        } catch (IllegalArgumentException e) {
            throw new InvalidJobSpecException(architecture.takesChannels() ? "channels" : "imageSide",
                    "no " + architecture.label() + " for these images: " + e.getMessage());
        }
        return training;
    }

    /**
     * FedMef's SAP ratio {@code γ}: a fraction in [0, 1) of each cached activation the agents drop. The
     * library's 0.5 for fedmef and fedmef_no_bae; 0 (and nothing else) for fedmef_no_sap and the variants
     * without SAP. The agents implement SAP only in the layer-wise trainer of nsconv_vgg.
     */
    private static double sapGamma(SpecFields f, Variant variant, Architecture architecture) {
        boolean given = f.has("sapGamma");
        double gamma = f.number("sapGamma", variant.prunesActivations() ? 0.5 : 0);
        if (!(gamma >= 0 && gamma < 1)) {
            throw new InvalidJobSpecException("sapGamma", "expected a fraction in [0, 1) of each cached activation to drop "
                    + "(0 = no activation pruning), got " + f.raw("sapGamma"));
        }
        if (gamma != 0 && !variant.prunesActivations()) {
            throw new InvalidJobSpecException("sapGamma", (variant == Variant.FEDMEF_NO_SAP
                    ? "fedmef_no_sap is FedMef without scaled activation pruning"
                    : variant.label() + " has no scaled activation pruning; only fedmef and fedmef_no_bae take sapGamma")
                    + "; leave sapGamma out or set it to 0, got " + f.raw("sapGamma"));
        }
        if (gamma > 0 && architecture != Architecture.NSCONV_VGG) {
            throw new InvalidJobSpecException("sapGamma", "scaled activation pruning is only implemented for architecture nsconv_vgg, "
                    + "got sapGamma " + gamma + (given ? "" : " (the " + variant.label() + " default)") + " with architecture "
                    + architecture.label() + "; set sapGamma: 0 or use nsconv_vgg");
        }
        return gamma;
    }

    /** Writes this method's fields in canonical form, as {@link #parse} reads them. */
    public void write(Map<String, Object> out) {
        out.put("variant", variant.label());
        out.put("architecture", architecture.label());
        if (architecture.takesChannels()) {
            out.put("channels", channels());
        } else {
            out.put("width", width);
        }
        out.put("imageChannels", imageChannels);
        out.put("imageSide", imageSide);
        out.put("classes", classes);
        out.put("density", density);
        out.put("rounds", rounds);
        if (localEpochs > 0) {
            out.put("localEpochs", localEpochs);
        } else {
            out.put("localSteps", localSteps);
        }
        out.put("batchSize", batchSize);
        out.put("learningRate", learningRate);
        out.put("momentum", momentum);
        out.put("weightDecay", weightDecay);
        out.put("adjustAlpha", adjustAlpha);
        out.put("adjustInterval", adjustInterval);
        out.put("adjustStopRound", adjustStopRound);
        out.put("blocks", blocks);
        if (variant.selectsCandidate()) {
            out.put("candidates", candidates);
        }
        out.put("bnPooling", bnPooling.name().toLowerCase(Locale.ROOT));
        out.put("evaluationImages", evaluationImages);
        if (variant.extrudes()) {
            out.put("extrusionLambda", extrusionLambda);
        }
        if (variant.isFedMef()) {
            out.put("sapGamma", sapGamma);
        }
        if (robustAggregation != null) {
            robustAggregation.write(out);
        }
    }
}
