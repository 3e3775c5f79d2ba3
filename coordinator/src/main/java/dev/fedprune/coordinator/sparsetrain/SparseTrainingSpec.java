package dev.fedprune.coordinator.sparsetrain;

import dev.fedprune.aggregation.sparsetrain.BnPooling;
import dev.fedprune.aggregation.sparsetrain.CnnLayout;
import java.util.Locale;

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
 */
public record SparseTrainingSpec(Variant variant, Architecture architecture, int[] channels, int width, int imageChannels,
                                 int imageSide, int classes, double density, int rounds, int localSteps, int batchSize,
                                 double learningRate, double adjustAlpha, int adjustInterval, int adjustStopRound, int blocks,
                                 int candidates, BnPooling bnPooling, int evaluationImages, double extrusionLambda,
                                 double sapGamma, int localEpochs, double momentum, double weightDecay) {

    public SparseTrainingSpec {
        channels = channels.clone();
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
                && Double.compare(s.weightDecay, weightDecay) == 0;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(variant, architecture, java.util.Arrays.hashCode(channels), width, density, rounds, localSteps, otherFieldsHash());
    }

    private int otherFieldsHash() {
        return java.util.Objects.hash(imageChannels, imageSide, classes, batchSize, learningRate, adjustAlpha, adjustInterval,
                adjustStopRound, blocks, candidates, bnPooling, evaluationImages, extrusionLambda, sapGamma, localEpochs, momentum,
                weightDecay);
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
}
