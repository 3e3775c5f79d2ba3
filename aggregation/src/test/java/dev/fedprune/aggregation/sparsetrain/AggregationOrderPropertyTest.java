package dev.fedprune.aggregation.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseFedAvg;
import dev.fedprune.aggregation.sparse.SparseTensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Agents' contributions arrive in whatever order the network delivers them; the aggregate that the
 * coordinator publishes must not depend on that order, bit for bit (sparse FedAvg of weights, and the
 * top-K gradient average that decides growth).
 */
class AggregationOrderPropertyTest {
    static final int AGENTS = 8;
    static final int SIZE = 4_000;

    record Update(String agent, long samples, SparseTensor tensor) {
    }

    /** Each agent keeps its own random subset (masks differ), values of mixed magnitude and sign. */
    static List<Update> updates(long seed, BitMask allowed) {
        Random r = new Random(seed);
        List<Update> out = new ArrayList<>();
        for (int a = 0; a < AGENTS; a++) {
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < SIZE; i++) {
                if ((allowed == null || allowed.get(i)) && r.nextDouble() < 0.3) {
                    idx.add(i);
                }
            }
            int[] indices = idx.stream().mapToInt(Integer::intValue).toArray();
            float[] values = new float[indices.length];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (r.nextGaussian() * Math.pow(10, -4 + 4 * r.nextDouble()));
            }
            out.add(new Update("agent-" + a, 1 + r.nextInt(20_000), new SparseTensor(SIZE, indices, values)));
        }
        return out;
    }

    @Test
    void sparseFedAvgDoesNotDependOnArrivalOrder() {
        for (long seed = 0; seed < 5; seed++) {
            List<Update> updates = updates(seed, null);
            float[] reference = null;
            Random shuffle = new Random(seed);
            for (int trial = 0; trial < 10; trial++) {
                List<Update> order = new ArrayList<>(updates);
                Collections.shuffle(order, shuffle);
                SparseFedAvg avg = new SparseFedAvg(Map.of("w", new long[] {SIZE}));
                order.forEach(u -> avg.fold(u.agent(), u.samples(), Map.of("w", u.tensor())));
                float[] result = avg.average("w");
                if (reference == null) {
                    reference = result;
                } else {
                    assertArrayEquals(reference, result, "seed " + seed + ", order " + order.stream().map(Update::agent).toList());
                }
            }
        }
    }

    @Test
    void topKGradientAverageDoesNotDependOnArrivalOrder() {
        BitMask keep = new BitMask(SIZE);
        Random r = new Random(7);
        for (int i = 0; i < SIZE; i++) {
            if (r.nextDouble() < 0.5) {
                keep.set(i);
            }
        }
        BitMask inactive = new BitMask(SIZE);
        for (int i = 0; i < SIZE; i++) {
            inactive.set(i, !keep.get(i));
        }
        List<Update> updates = updates(11, inactive);
        int k = updates.stream().mapToInt(u -> u.tensor().indices().length).max().orElseThrow();
        SparseTensor reference = null;
        for (int trial = 0; trial < 10; trial++) {
            List<Update> order = new ArrayList<>(updates);
            Collections.shuffle(order, new Random(trial));
            TopKGradientAggregator agg = new TopKGradientAggregator(Map.of("w", keep), Map.of("w", k));
            order.forEach(u -> agg.fold(u.agent(), u.samples(), Map.of("w", u.tensor())));
            SparseTensor result = agg.aggregated("w");
            if (reference == null) {
                reference = result;
            } else {
                assertEquals(reference, result, "order " + order.stream().map(Update::agent).toList());
            }
        }
    }
}
