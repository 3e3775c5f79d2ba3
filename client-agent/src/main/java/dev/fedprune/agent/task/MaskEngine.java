package dev.fedprune.agent.task;

import dev.fedprune.aggregation.format.BitMask;
import java.io.IOException;
import java.util.Map;

/** Computes this agent's prune masks (1 = remove) for a mask-vote task. */
public interface MaskEngine {
    /** @return one mask per requested tensor, keyed by tensor name */
    Map<String, BitMask> computeMasks(MaskRequest request, ProgressListener progress) throws IOException;
}
