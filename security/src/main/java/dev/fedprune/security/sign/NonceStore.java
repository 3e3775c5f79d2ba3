package dev.fedprune.security.sign;

/** Remembers which nonces a signer has used; the coordinator keeps them in its database. */
public interface NonceStore {
    /** True when the nonce is new for this signer (and is now recorded); false when it was used before. */
    boolean recordFirstUse(String signer, String nonce, String context, long atMillis);

    /** True when this signer used the nonce before; records nothing. */
    boolean wasUsed(String signer, String nonce);
}
