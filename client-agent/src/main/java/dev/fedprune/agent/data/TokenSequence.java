package dev.fedprune.agent.data;

/** One sample of token ids (already cut to the sequence length) and its optional category. */
public record TokenSequence(int[] ids, String category) {
    public int length() {
        return ids.length;
    }
}
