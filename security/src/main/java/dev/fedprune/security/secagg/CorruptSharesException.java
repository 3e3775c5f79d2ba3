package dev.fedprune.security.secagg;

/** Shares that cannot all lie on one sharing polynomial, or reconstruct a key that does not match its advertised public key. */
public class CorruptSharesException extends RuntimeException {
    public CorruptSharesException(String message) {
        super(message);
    }
}
