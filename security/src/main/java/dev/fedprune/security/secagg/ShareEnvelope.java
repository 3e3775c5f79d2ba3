package dev.fedprune.security.secagg;

import java.util.Arrays;

/**
 * The shares one agent gives one neighbour (of its self-mask seed and of its mask private key),
 * encrypted so that the coordinator relaying it learns nothing. {@code from} and {@code to} are roster indices.
 */
public record ShareEnvelope(int from, int to, byte[] ciphertext) {
    public ShareEnvelope {
        ciphertext = ciphertext.clone();
    }

    @Override
    public byte[] ciphertext() {
        return ciphertext.clone();
    }

    /** Bytes on the wire: two indices and the ciphertext. */
    public int wireBytes() {
        return 4 + 4 + ciphertext.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ShareEnvelope e && e.from == from && e.to == to && Arrays.equals(e.ciphertext, ciphertext);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * from + to) + Arrays.hashCode(ciphertext);
    }
}
