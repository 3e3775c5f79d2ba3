package dev.fedprune.aggregation.robust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SampleCapTest {
    static Map<String, Long> reports(long... samples) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < samples.length; i++) {
            out.put("agent-" + i, samples[i]);
        }
        return out;
    }

    @Test
    void noAgentWeighsMoreThanTheFactorTimesTheMedianReport() {
        SampleCap.Result r = SampleCap.apply(reports(100, 120, 80, 1_000_000), 2);
        assertEquals(220, r.cap(), "2 x the median (100 + 120) / 2");
        assertEquals(List.of(100L, 120L, 80L, 220L), List.copyOf(r.weights().values()));
        assertEquals(List.of("agent-3"), r.capped());
    }

    @Test
    void withoutAFactorTheReportsStand() {
        SampleCap.Result r = SampleCap.apply(reports(5, 1_000_000), 0);
        assertEquals(Long.MAX_VALUE, r.cap());
        assertEquals(List.of(5L, 1_000_000L), List.copyOf(r.weights().values()));
        assertEquals(List.of(), r.capped());
    }

    @Test
    void anAgentAtTheCapIsNotCapped() {
        SampleCap.Result r = SampleCap.apply(reports(10, 10, 20), 2);
        assertEquals(20, r.cap());
        assertEquals(List.of(), r.capped());
    }

    @Test
    void refusesANegativeOrInfiniteFactor() {
        assertThrows(IllegalArgumentException.class, () -> SampleCap.apply(reports(1), -1));
        assertThrows(IllegalArgumentException.class, () -> SampleCap.apply(reports(1), Double.POSITIVE_INFINITY));
    }
}
