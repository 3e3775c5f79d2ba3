package dev.fedprune.coordinator.job;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.TieBreak;
import dev.fedprune.coordinator.sparsetrain.SparseTrainingSpec;

/**
 * A job as an operator submits it (YAML or JSON), after validation. The {@code method} field picks the
 * federated method: FedPrLLM (the default; every field below but {@code sparseTraining}) or federated
 * sparse training of CNNs, whose own parameters are in {@code sparseTraining}; for such a job only the
 * common fields (name, agents per round, quorum, deadline, waiting time, seed, round attempts, over-selection)
 * are meaningful and the FedPrLLM ones hold their defaults.
 *
 * @param modelPath           Hugging Face model directory on the coordinator
 * @param strategy            one-shot (one round) or iterative (one decoder layer per round)
 * @param localPruner         what agents run locally
 * @param localPerRow         agents compare within rows (Wanda's group) rather than the whole matrix
 * @param nmN                 N of an N:M pattern, 0 for unstructured
 * @param agentsPerRound      agents selected per round
 * @param quorum              contributions needed to aggregate once the deadline has passed
 * @param waitForAgentsSeconds how long to wait for enough online agents before failing (0 = forever)
 * @param sparsityTolerance   a local mask whose sparsity differs from the target by more than this is refused
 * @param weightVotesBySamples each agent's votes count as many times as its calibration samples (default: one vote each)
 * @param trimFraction        fraction of agents farthest from the consensus whose votes are dropped (0 = plain vote)
 * @param evaluationSamples   when positive, every agent measures the perplexity of the global model its task starts
 *                            from on this many of its own samples, and a last evaluation round measures the final
 *                            model: the job's quality per round (0 = no evaluation)
 * @param sparseTraining      the parameters of a sparse training job; null for FedPrLLM
 * @param roundAttempts       how many times a round is opened, each time with a fresh seeded selection of agents,
 *                            before a missed quorum fails the job (1 = the first miss fails it)
 * @param overSelectedAgents  agents selected beyond {@code agentsPerRound} when that many are online; the round
 *                            closes as soon as {@code agentsPerRound} contributions are folded (0 = none)
 */
public record JobSpec(String name, String modelPath, Strategy strategy, LocalPruner localPruner, boolean localPerRow,
                      double sparsityRatio, int nmN, int nmM, ComparisonGroup comparisonGroup, boolean weightScaling,
                      TieBreak tieBreak, int agentsPerRound, int quorum, int deadlineSeconds, int waitForAgentsSeconds,
                      int calibrationSamples, int sequenceLength, long seed, double sparsityTolerance,
                      boolean weightVotesBySamples, double trimFraction, int evaluationSamples, SparseTrainingSpec sparseTraining,
                      int roundAttempts, int overSelectedAgents) {

    /** The most attempts a job may give one round. */
    public static final int MAX_ROUND_ATTEMPTS = 10;

    /** The federated method of a job, by its name in the spec. */
    public enum Method {
        FEDPRLLM("fedprllm"), SPARSE_TRAINING("sparse_training");

        private final String label;

        Method(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public Method method() {
        return sparseTraining == null ? Method.FEDPRLLM : Method.SPARSE_TRAINING;
    }

    public enum Strategy { ONE_SHOT, ITERATIVE }

    public enum LocalPruner { MAGNITUDE, WANDA, SPARSEGPT }

    public String patternLabel() {
        return nmM == 0 ? "unstructured" : nmN + ":" + nmM;
    }
}
