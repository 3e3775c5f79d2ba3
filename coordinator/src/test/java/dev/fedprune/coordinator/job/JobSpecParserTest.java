package dev.fedprune.coordinator.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.vote.ComparisonGroup;
import org.junit.jupiter.api.Test;

class JobSpecParserTest {

    @Test
    void readsYamlWithDefaults() {
        JobSpec spec = JobSpecParser.parse("model: /m\nsparsity: 0.6\ncomparisonGroup: row\n");
        assertEquals("/m", spec.modelPath());
        assertEquals(0.6, spec.sparsityRatio());
        assertEquals(ComparisonGroup.ROW, spec.comparisonGroup());
        assertEquals(JobSpec.LocalPruner.WANDA, spec.localPruner());
        assertTrue(spec.localPerRow());
        assertEquals(spec.agentsPerRound(), spec.quorum());
    }

    @Test
    void readsJsonAndRoundTripsThroughCanonicalJson() {
        JobSpec spec = JobSpecParser.parse("{\"model\": \"/m\", \"sparsity\": 0.5, \"pattern\": \"2:4\", \"strategy\": \"iterative\", \"agentsPerRound\": 4, \"quorum\": 3, \"seed\": 9}");
        assertEquals(2, spec.nmN());
        assertEquals(4, spec.nmM());
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
        assertRejected("model: /m\nsparsity: 0.5\nmethod: fedavg", "method", "fedprllm");
        assertRejected("model: [unclosed", "spec", "not valid YAML");
        assertRejected("- a\n- b", "spec", "mapping");
    }
}
