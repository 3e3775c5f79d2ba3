package dev.fedprune.agent.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import org.junit.jupiter.api.Test;

/** What a FedSpaLLM agent sends for one pruned matrix (the handler end to end: FedSpaLlmJobTest in the coordinator). */
class SparseLayersHandlerTest {

    @Test
    void sendsEveryKeptWeightWithItsValueIncludingKeptZeros() {
        float[] weights = {0.5f, 0f, -2f, 0f, 3f};
        BitMask pruned = new BitMask(5);
        pruned.set(1);
        pruned.set(4);
        SparseTensor kept = SparseLayersHandler.kept(weights, pruned);
        assertEquals(5, kept.size());
        assertArrayEquals(new int[] {0, 2, 3}, kept.indices(), "index 3 is kept although SparseGPT's update made it 0");
        assertArrayEquals(new float[] {0.5f, -2f, 0f}, kept.values());
    }
}
