package dev.fedprune.security;

/** A nonce that was already used by the same signer: the message is a replay. */
public class ReplayedNonceException extends RuntimeException {
    public ReplayedNonceException(String message) {
        super(message);
    }
}
