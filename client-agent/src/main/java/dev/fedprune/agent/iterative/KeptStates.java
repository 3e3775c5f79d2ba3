package dev.fedprune.agent.iterative;

import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.HiddenStates;

/**
 * Calibration hidden states kept between the rounds of a FedPrLLM iterative job: the input of a decoder
 * layer, computed with the global masks of the layers before it, so that a later round starts there instead
 * of running every earlier layer again. Keeping is an optimisation only: an implementation never fails the
 * pruning that asks, it answers "nothing kept" instead.
 */
public interface KeptStates {
    /** Keeps nothing: every round starts from the embeddings. */
    KeptStates NONE = new KeptStates() {
        @Override
        public Resumed resume(DecoderRuntime runtime, int layer, int[] tokensPerSequence) {
            return null;
        }

        @Override
        public void keep(int layer, HiddenStates states) {
        }
    };

    /** The kept input states of {@code layer}, owned by the caller. */
    record Resumed(int layer, HiddenStates states) {
    }

    /**
     * The valid kept input states of the highest layer in {@code 1..layer}, or null when there are none
     * (then the caller starts from the embeddings).
     *
     * @param tokensPerSequence the token count of each calibration sequence, which kept states must match
     */
    Resumed resume(DecoderRuntime runtime, int layer, int[] tokensPerSequence);

    /** Keeps {@code states}, the input of {@code layer}, for later rounds; the caller keeps ownership. */
    void keep(int layer, HiddenStates states);
}
