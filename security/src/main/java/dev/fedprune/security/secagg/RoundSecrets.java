package dev.fedprune.security.secagg;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

/**
 * HKDF-SHA256 derivations from X25519 shared secrets, each bound to (job, round, the two agents) by its
 * info string, so a secret from one round or pair is useless in another.
 *
 * <p>info = length-prefixed UTF-8 fields: domain tag, job id, round (8 bytes big-endian), then the two
 * agent ids: for mask seeds the lower roster index first (both agents derive the same seed), for share
 * keys sender first (the two directions of a pair get different keys). No salt.
 */
public final class RoundSecrets {
    static final String MASK_SEED = "fedprune.v1/secagg/mask-seed";
    static final String SHARE_KEY = "fedprune.v1/secagg/share-key";

    private RoundSecrets() {
    }

    /** s_uv = HKDF-SHA256(X25519(s_sk_u, s_pk_v), info = job | round | id(min(u,v)) | id(max(u,v))). */
    public static byte[] maskSeed(byte[] x25519Shared, String jobId, int roundIndex, String lowerAgentId, String higherAgentId) {
        return hkdf(x25519Shared, info(MASK_SEED, jobId, roundIndex, lowerAgentId, higherAgentId));
    }

    /** The AES-256-GCM key for shares sent from one agent to another, from X25519(c_sk, c_pk). */
    public static byte[] shareKey(byte[] x25519Shared, String jobId, int roundIndex, String fromAgentId, String toAgentId) {
        return hkdf(x25519Shared, info(SHARE_KEY, jobId, roundIndex, fromAgentId, toAgentId));
    }

    static byte[] info(String domain, String jobId, int roundIndex, String first, String second) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String s : new String[] {domain, jobId}) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
            out.writeBytes(b);
        }
        out.writeBytes(ByteBuffer.allocate(8).putLong(roundIndex).array());
        for (String s : new String[] {first, second}) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    private static byte[] hkdf(byte[] ikm, byte[] info) {
        HKDFBytesGenerator hkdf = new HKDFBytesGenerator(new SHA256Digest());
        hkdf.init(new HKDFParameters(ikm, null, info));
        byte[] out = new byte[32];
        hkdf.generateBytes(out, 0, out.length);
        return out;
    }
}
