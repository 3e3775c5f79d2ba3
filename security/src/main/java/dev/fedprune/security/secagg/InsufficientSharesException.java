package dev.fedprune.security.secagg;

import java.util.List;

/**
 * Unmasking cannot finish: for the listed agents fewer surviving neighbours revealed shares than the
 * threshold, so their self-mask seed (survivors) or mask key (dropped agents) cannot be reconstructed.
 */
public class InsufficientSharesException extends RuntimeException {
    private final List<String> agentsLackingShares;

    public InsufficientSharesException(String message, List<String> agentsLackingShares) {
        super(message);
        this.agentsLackingShares = List.copyOf(agentsLackingShares);
    }

    /** Agent ids whose secret could not be reconstructed, in roster order. */
    public List<String> agentsLackingShares() {
        return agentsLackingShares;
    }
}
