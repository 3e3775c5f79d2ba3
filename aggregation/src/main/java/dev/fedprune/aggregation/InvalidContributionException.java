package dev.fedprune.aggregation;

/**
 * A contribution that cannot be folded: the message names the field (tensor, index, agent) and what
 * was expected. Whatever throws it has left its accumulator unchanged.
 */
public class InvalidContributionException extends RuntimeException {
    private final String field;

    public InvalidContributionException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
