package dev.fedprune.coordinator.job;

import static dev.fedprune.coordinator.job.JobSpecParserTest.assertRejected;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class SecureAggregationSpecTest {
    private static final String BASE = "model: /m\nsparsity: 0.5\nagentsPerRound: 8\n";

    @Test
    void readsDefaultsAndRoundTripsThroughCanonicalJson() {
        JobSpec job = JobSpecParser.parse(BASE + "secureAggregation: true\nquorum: 5\n");
        SecureAggregationSpec secure = job.method(FedPrLlmSpec.class).secureAggregation();
        // 8 agents: degree 2*ceil(log2 8) = 6, threshold 6/2 + 1 = 4.
        assertEquals(6, secure.degreeFor(8));
        assertEquals(4, secure.thresholdFor(8));
        // Fewer agents advertise keys: the graph shrinks with the roster, capped at the complete graph.
        assertEquals(4, secure.degreeFor(5));
        assertEquals(job, JobSpecParser.parse(JobSpecParser.toJson(job)));
        assertNull(JobSpecParser.parse(BASE).method(FedPrLlmSpec.class).secureAggregation());
    }

    @Test
    void readsDegreeAndThresholdAndRoundTripsThem() {
        JobSpec job = JobSpecParser.parse(BASE + "secureAggregation: true\nsecureAggregationDegree: 4\nsecureAggregationThreshold: 2\nquorum: 6\n");
        SecureAggregationSpec secure = job.method(FedPrLlmSpec.class).secureAggregation();
        assertEquals(new SecureAggregationSpec(4, 2), secure);
        assertEquals(2, secure.thresholdFor(8));
        assertEquals(job, JobSpecParser.parse(JobSpecParser.toJson(job)));
    }

    @Test
    void refusesOptionsThatNeedEachAgentsMaskNamingTheField() {
        String secure = BASE + "secureAggregation: true\n";
        assertRejected(secure + "trimFraction: 0.25", "trimFraction", "measures every agent's mask against the consensus (Hamming distance)");
        assertRejected(secure + "voteWeighting: samples", "voteWeighting", "cannot be combined with secureAggregation");
        assertRejected(secure + "sparsityTolerance: 0.1", "sparsityTolerance", "checked on each agent's mask");
        assertRejected(secure + "overSelectedAgents: 2", "overSelectedAgents", "fixed when they exchange keys");
    }

    @Test
    void refusesThresholdsTheRosterOrQuorumCannotMeet() {
        String secure = "secureAggregation: true\n";
        assertRejected("model: /m\nsparsity: 0.5\nagentsPerRound: 2\n" + secure, "agentsPerRound", "at least 3 agents");
        assertRejected(BASE + secure + "secureAggregationDegree: 3", "secureAggregationDegree", "even number");
        assertRejected(BASE + secure + "secureAggregationDegree: 4\nsecureAggregationThreshold: 5", "secureAggregationThreshold", "expected 1..4");
        assertRejected(BASE + secure + "secureAggregationThreshold: 0", "secureAggregationThreshold", "expected 1..6");
        assertRejected(BASE + secure + "quorum: 3", "quorum", "at least secureAggregationThreshold (4)");
        assertRejected(BASE + "secureAggregationThreshold: 3", "secureAggregationThreshold", "only with secureAggregation: true");
        assertRejected(BASE + "secureAggregation: maybe", "secureAggregation", "true or false");
    }
}
