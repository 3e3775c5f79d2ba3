package dev.fedprune.security;

/** A security field that cannot even be parsed: malformed PEM, CSR, nonce or signature encoding. */
public class InvalidSecurityInputException extends RuntimeException {
    private final String field;

    public InvalidSecurityInputException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public InvalidSecurityInputException(String field, String message, Throwable cause) {
        super(field + ": " + message, cause);
        this.field = field;
    }

    /** The wire or form field at fault, e.g. {@code csr_pem}. */
    public String field() {
        return field;
    }
}
