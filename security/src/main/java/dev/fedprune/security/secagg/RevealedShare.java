package dev.fedprune.security.secagg;

/**
 * A share a surviving agent ({@code holder}) hands the coordinator in the unmasking phase: of the
 * self-mask seed of a neighbour whose masked vector arrived, or of the mask private key of a neighbour
 * that dropped out. Indices are roster indices.
 */
public record RevealedShare(int holder, int owner, Secret secret, SeedShare share) {
    /** Which of the owner's two shared secrets this share belongs to. */
    public enum Secret {
        /** b_u, revealed only for agents whose masked vector reached the coordinator. */
        SELF_MASK_SEED,
        /** s_sk_u, revealed only for agents that dropped out after the shares went out. */
        MASK_PRIVATE_KEY
    }

    /** Bytes on the wire: two indices, a kind byte and the share. */
    public static final int WIRE_BYTES = 4 + 4 + 1 + SeedShare.BYTES;
}
