package dev.fedprune.aggregation.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class AggregationBenchTest {

    @Test
    void smallRunPrintsOneJsonLineWithTheContractFieldsAndAgreesWithTheBaseline() {
        String line = AggregationBench.run(3, 200_000, 0.5, 1);
        assertTrue(!line.contains("\n"), "one line");
        JsonNode json = JsonMapper.builder().build().readTree(line);
        for (String field : new String[] {"seconds", "mask_gb_per_s", "baseline_seconds", "peak_heap_mb", "agents", "weights"}) {
            assertTrue(json.has(field), field);
        }
        assertEquals(3, json.get("agents").asInt());
        long weights = json.get("weights").asLong();
        assertTrue(Math.abs(weights - 200_000) < 60_000, "about the requested size: " + weights);
        assertEquals(weights / 2, json.get("pruned").asLong(), 7);
        assertTrue(json.get("baseline_agrees_lowest_index").asBoolean());
        assertEquals(3, json.get("wire").size());
        for (JsonNode w : json.get("wire")) {
            assertTrue(w.get("round_trip").asBoolean());
            assertTrue(w.get("bytes").asLong() <= w.get("bitpacked_bytes").asLong());
        }
    }

    @Test
    void defaultShapesAreOneLlama7bDecoderLayer() {
        Map<String, long[]> shapes = AggregationBench.layerShapes(0);
        assertEquals(7, shapes.size());
        assertEquals(4L * 4096 * 4096 + 3L * 4096 * 11008, shapes.values().stream().mapToLong(s -> s[0] * s[1]).sum());
    }
}
