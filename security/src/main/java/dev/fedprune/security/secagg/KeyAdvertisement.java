package dev.fedprune.security.secagg;

import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.Arrays;

/**
 * An agent's two X25519 public keys for one round (Bonawitz et al.'s c_pk for encrypting shares and s_pk
 * for mask seeds), signed with its identity key over {@link Statements#secAggKeys}. The coordinator relays
 * it unchanged; a peer that verifies it against the agent's certificate knows the coordinator did not
 * substitute its own keys.
 */
public record KeyAdvertisement(String agentId, int roundIndex, byte[] sharePublicKey, byte[] maskPublicKey, byte[] signature) {

    public KeyAdvertisement {
        sharePublicKey = sharePublicKey.clone();
        maskPublicKey = maskPublicKey.clone();
        signature = signature.clone();
    }

    public static KeyAdvertisement sign(String jobId, int roundIndex, String agentId, byte[] sharePublicKey, byte[] maskPublicKey,
            PrivateKey identityKey) {
        byte[] statement = Statements.secAggKeys(jobId, roundIndex, agentId, sharePublicKey, maskPublicKey);
        return new KeyAdvertisement(agentId, roundIndex, sharePublicKey, maskPublicKey, Signatures.sign(identityKey, statement));
    }

    /** Verifies or throws {@link dev.fedprune.security.SignatureRejectedException}. */
    public void verify(String jobId, PublicKey identityKey) {
        byte[] statement = Statements.secAggKeys(jobId, roundIndex, agentId, sharePublicKey, maskPublicKey);
        Signatures.verify(identityKey, statement, signature, "secure-aggregation keys of agent " + agentId + " for round " + roundIndex);
    }

    /** Bytes on the wire in a length-prefixed encoding: id, round, two keys, signature. */
    public int wireBytes() {
        return 4 + agentId.getBytes(StandardCharsets.UTF_8).length + 4 + 4 + sharePublicKey.length + 4 + maskPublicKey.length + 4 + signature.length;
    }

    @Override
    public byte[] sharePublicKey() {
        return sharePublicKey.clone();
    }

    @Override
    public byte[] maskPublicKey() {
        return maskPublicKey.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeyAdvertisement a && a.agentId.equals(agentId) && a.roundIndex == roundIndex && Arrays.equals(a.sharePublicKey, sharePublicKey)
                && Arrays.equals(a.maskPublicKey, maskPublicKey) && Arrays.equals(a.signature, signature);
    }

    @Override
    public int hashCode() {
        return agentId.hashCode() * 31 + Arrays.hashCode(maskPublicKey);
    }

    @Override
    public String toString() {
        return "KeyAdvertisement[" + agentId + ", round " + roundIndex + "]";
    }
}
