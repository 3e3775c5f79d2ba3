package dev.fedprune.aggregation.robust;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The trimmed vote of {@link TrimmedVote}, one group of tensors (a decoder layer) at a time: memory
 * holds one layer's vote counters and one agent's masks of that layer, whatever the size of the model.
 * Selection is per tensor and agreement sums over tensors, so the masks are bit-identical to counting
 * the whole round at once.
 *
 * <p>Pass 1 counts each layer, selects its consensus and measures every agent against it. Without
 * trimming that is all, and each layer goes to the sink as soon as it is selected. With trimming, the
 * farthest agents are known only after the last layer, and pass 2 counts the kept agents again.
 */
public final class LayeredVote {
    private LayeredVote() {
    }

    /** An agent's stored masks of some tensors, read again on every call. */
    @FunctionalInterface
    public interface MaskSource {
        Map<String, BitMask> masks(String agentId, Collection<String> tensors) throws IOException;
    }

    /** Receives each layer's final selection with the counts it came from (for weight scaling). */
    @FunctionalInterface
    public interface LayerSink {
        void accept(VoteAccumulator votes, Map<String, BitMask> selected) throws IOException;
    }

    /**
     * @param agreement every agent's distance to the untrimmed consensus, over all layers
     * @param excluded  the agents removed, farthest first
     */
    public record Result(AgreementReport agreement, List<String> excluded) {
    }

    /**
     * @param layers       tensor shapes, one map per layer, in the order the sink receives them
     * @param weights      agent id to vote weight, in fold order
     * @param trimFraction fraction of agents to drop, in [0, 1): {@code (int) (fraction * agents)} of them
     */
    public static Result run(List<Map<String, long[]>> layers, Map<String, Long> weights, SelectionSpec spec, double trimFraction,
                             MaskSource source, LayerSink sink) throws IOException {
        if (weights.isEmpty()) {
            throw new IllegalArgumentException("no agent voted");
        }
        boolean trims = (int) (weights.size() * trimFraction) > 0;
        AgreementReport agreement = new AgreementReport(List.of());
        for (Map<String, long[]> layer : layers) {
            VoteAccumulator votes = count(layer, weights, source);
            Map<String, BitMask> consensus = votes.selectAll(spec);
            List<AgentAgreement> distances = new ArrayList<>();
            for (String agent : weights.keySet()) {
                distances.add(AgreementReport.measure(agent, consensus, source.masks(agent, layer.keySet())));
            }
            agreement = agreement.merge(new AgreementReport(distances));
            if (!trims) {
                sink.accept(votes, consensus);
            }
        }
        List<String> excluded = agreement.farthest(trimFraction);
        if (trims) {
            Map<String, Long> kept = new LinkedHashMap<>(weights);
            excluded.forEach(kept::remove);
            for (Map<String, long[]> layer : layers) {
                VoteAccumulator votes = count(layer, kept, source);
                sink.accept(votes, votes.selectAll(spec));
            }
        }
        return new Result(agreement, excluded);
    }

    private static VoteAccumulator count(Map<String, long[]> layer, Map<String, Long> weights, MaskSource source) throws IOException {
        VoteAccumulator votes = new VoteAccumulator(layer);
        for (Map.Entry<String, Long> agent : weights.entrySet()) {
            votes.fold(agent.getKey(), source.masks(agent.getKey(), layer.keySet()), agent.getValue());
        }
        return votes;
    }
}
