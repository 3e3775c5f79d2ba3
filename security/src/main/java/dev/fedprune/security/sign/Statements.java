package dev.fedprune.security.sign;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The canonical byte strings that FedPrune signs. Each starts with a domain tag, so a signature
 * made for one kind of statement can never be taken for another, and encodes every field with a
 * length prefix, so no two different field lists encode to the same bytes.
 */
public final class Statements {
    static final String CONTRIBUTION = "fedprune.v1/contribution";
    static final String TASK = "fedprune.v1/task";
    static final String ARTIFACT = "fedprune.v1/artifact";
    static final String SECAGG_KEYS = "fedprune.v1/secagg-keys";

    private Statements() {
    }

    /** What an agent signs for an upload: the whole binding of (job, round, task, agent, payload digest, nonce). */
    public static byte[] contribution(String jobId, int roundIndex, String taskId, String agentId, String payloadSha256, String nonce) {
        return new Encoder(CONTRIBUTION).string(jobId).integer(roundIndex).string(taskId).string(agentId).string(payloadSha256)
                .string(nonce).bytes();
    }

    /** What the coordinator signs for a task: the exact serialized Task message the agent will parse. */
    public static byte[] task(String agentId, byte[] serializedTask) {
        return new Encoder(TASK).string(agentId).blob(serializedTask).bytes();
    }

    /** What the coordinator signs for an artifact it serves: its id, size and digest. */
    public static byte[] artifact(String artifactId, long sizeBytes, String sha256) {
        return new Encoder(ARTIFACT).string(artifactId).integer(sizeBytes).string(sha256).bytes();
    }

    /**
     * What an agent signs to advertise its secure-aggregation public keys for one round, so that the
     * coordinator can relay them and peers know they came from that agent and no other round.
     */
    public static byte[] secAggKeys(String jobId, int roundIndex, String agentId, byte[] sharePublicKey, byte[] maskPublicKey) {
        return new Encoder(SECAGG_KEYS).string(jobId).integer(roundIndex).string(agentId).blob(sharePublicKey).blob(maskPublicKey).bytes();
    }

    private static final class Encoder {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Encoder(String domain) {
            string(domain);
        }

        Encoder string(String s) {
            return blob((s == null ? "" : s).getBytes(StandardCharsets.UTF_8));
        }

        Encoder integer(long v) {
            out.writeBytes(ByteBuffer.allocate(8).putLong(v).array());
            return this;
        }

        Encoder blob(byte[] b) {
            out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
            out.writeBytes(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
