package dev.fedprune.coordinator.job;

import static dev.fedprune.coordinator.job.JobSpecParserTest.assertRejected;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.robust.RobustFedAvg;
import dev.fedprune.coordinator.method.MethodRegistry;
import org.junit.jupiter.api.Test;

/** The {@code robustAggregation} block of sparse training jobs and FedPrLLM's {@code sampleCap}: read, refused by field, round-tripped. */
class RobustAggregationSpecTest {
    static final String TRAINING = "method: sparse_training\nvariant: static_sparse\nchannels: [4, 8]\ndensity: 0.3\nagentsPerRound: 10\n";
    static final String VOTE = "model: /m\nsparsity: 0.5\n";

    static SparseTrainingSpec training(String extra) {
        return JobSpecParser.parse(TRAINING + extra).method(SparseTrainingSpec.class);
    }

    @Test
    void readsEveryRuleWithItsOptionsAndRoundTripsThroughCanonicalJson() {
        assertNull(training("").robustAggregation(), "no block: plain sparse FedAvg");
        RobustAggregationSpec trimmed = training("robustAggregation: {rule: trimmed_mean, trimFraction: 0.2, clipNorm: 5, sampleCap: 3}\n")
                .robustAggregation();
        assertEquals(new RobustAggregationSpec(RobustFedAvg.Rule.TRIMMED_MEAN, 0.2, 5, 3), trimmed);
        assertEquals(new RobustFedAvg.Options(RobustFedAvg.Rule.TRIMMED_MEAN, 0.2, 5, 3), trimmed.options());
        assertEquals(new RobustAggregationSpec(RobustFedAvg.Rule.MEDIAN, 0, 0, 0), training("robustAggregation: {rule: median}\n").robustAggregation());
        assertEquals(new RobustAggregationSpec(RobustFedAvg.Rule.MEAN, 0, 2.5, 0), training("robustAggregation:\n  clipNorm: 2.5\n").robustAggregation());
        for (String block : new String[] {"{rule: trimmed_mean, trimFraction: 0.1, sampleCap: 2}", "{rule: median, clipNorm: 1}", "{sampleCap: 1}"}) {
            JobSpec job = JobSpecParser.parse(TRAINING + "robustAggregation: " + block + "\n");
            assertEquals(job, JobSpecParser.parse(JobSpecParser.toJson(job)), block);
        }
    }

    @Test
    void refusesBadValuesNamingTheFieldInsideTheBlock() {
        assertRejected(TRAINING + "robustAggregation: median\n", "robustAggregation", "expected a mapping");
        assertRejected(TRAINING + "robustAggregation: {rule: krum}\n", "robustAggregation.rule", "expected one of mean, trimmed_mean, median, got 'krum'");
        assertRejected(TRAINING + "robustAggregation: {rule: trimmed_mean}\n", "robustAggregation.trimFraction", "required for rule trimmed_mean");
        assertRejected(TRAINING + "robustAggregation: {rule: trimmed_mean, trimFraction: 0.5}\n", "robustAggregation.trimFraction", "in (0, 0.5), got 0.5");
        assertRejected(TRAINING + "robustAggregation: {rule: median, trimFraction: 0.1}\n", "robustAggregation.trimFraction",
                "only for rule trimmed_mean");
        assertRejected(TRAINING + "robustAggregation: {clipNorm: 0}\n", "robustAggregation.clipNorm", "> 0, got 0");
        assertRejected(TRAINING + "robustAggregation: {clipNorm: -1}\n", "robustAggregation.clipNorm", "finite number > 0, got -1");
        assertRejected(TRAINING + "robustAggregation: {sampleCap: 0.5}\n", "robustAggregation.sampleCap", "at least 1, got 0.5");
        assertRejected(TRAINING + "robustAggregation: {sampleCap: lots}\n", "robustAggregation.sampleCap", "expected a number, got 'lots'");
        assertRejected(TRAINING + "robustAggregation: {clip: 3}\n", "robustAggregation.clip", "unknown field; expected one of [clipNorm, rule, sampleCap, trimFraction]");
        assertRejected(VOTE + "robustAggregation: {rule: median}\n", "robustAggregation", "only for method: sparse_training");
    }

    @Test
    void aTrimmedMeanThatWouldTrimNobodyAtTheQuorumIsRefusedAtSubmission() {
        JobSpec fine = JobSpecParser.parse(TRAINING + "robustAggregation: {rule: trimmed_mean, trimFraction: 0.1}\n");
        MethodRegistry.checkInputs(fine);
        JobSpec few = JobSpecParser.parse(TRAINING + "quorum: 5\nrobustAggregation: {rule: trimmed_mean, trimFraction: 0.1}\n");
        InvalidJobSpecException e = assertThrows(InvalidJobSpecException.class, () -> MethodRegistry.checkInputs(few));
        assertEquals("robustAggregation.trimFraction", e.field());
        assertTrue(e.getMessage().contains("trims no agent of a round of 5"), e.getMessage());
    }

    @Test
    void fedPrLlmCapsSampleWeightedVotesOnly() {
        FedPrLlmSpec capped = JobSpecParser.parse(VOTE + "voteWeighting: samples\nsampleCap: 2\n").method(FedPrLlmSpec.class);
        assertEquals(2.0, capped.sampleCap());
        assertEquals(0.0, JobSpecParser.parse(VOTE + "voteWeighting: samples\n").method(FedPrLlmSpec.class).sampleCap());
        JobSpec job = JobSpecParser.parse(VOTE + "voteWeighting: samples\nsampleCap: 2.5\n");
        assertEquals(job, JobSpecParser.parse(JobSpecParser.toJson(job)));
        assertRejected(VOTE + "sampleCap: 2\n", "sampleCap", "only with voteWeighting: samples");
        assertRejected(VOTE + "voteWeighting: samples\nsampleCap: 0\n", "sampleCap", "at least 1, got 0");
        assertRejected(TRAINING + "sampleCap: 2\n", "sampleCap", "only for method: fedprllm");
    }
}
