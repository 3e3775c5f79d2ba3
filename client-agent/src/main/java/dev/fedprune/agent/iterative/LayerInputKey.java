package dev.fedprune.agent.iterative;

import dev.fedprune.agent.llm.Projection;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Digests;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;

/**
 * Everything the input hidden states of one decoder layer depend on: the job and model, the calibration
 * data (the file's digest, the draw and the resulting token ids), the device that computed them, the layer,
 * and the global masks applied to every layer before it. Two computations with equal keys produce the
 * same bits; a kept file is used only under the key it was written with.
 *
 * @param calibrationFileSha256 SHA-256 of the calibration file's bytes
 * @param tokenIdsSha256        SHA-256 of the sampled, cut token ids, sequence by sequence
 * @param sequenceLength        the effective sequence length the samples were cut to
 * @param priorMasksSha256      SHA-256 of the masks of layers {@code 0..layer-1} (see {@link #priorMaskDigests})
 */
public record LayerInputKey(String jobId, String modelId, String calibrationFileSha256, String tokenIdsSha256,
                            int calibrationSamples, int sequenceLength, long seed, String device, int layer,
                            String priorMasksSha256) {

    /** The key of another layer of the same job, model and calibration data. */
    public LayerInputKey forLayer(int otherLayer, String otherPriorMasksSha256) {
        return new LayerInputKey(jobId, modelId, calibrationFileSha256, tokenIdsSha256, calibrationSamples, sequenceLength, seed,
                device, otherLayer, otherPriorMasksSha256);
    }

    /** SHA-256 of an unambiguous encoding of every field: what a kept file records and is checked against. */
    public byte[] digest() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeUTF("fedprune layer input key v1");
            out.writeUTF(jobId);
            out.writeUTF(modelId);
            out.writeUTF(calibrationFileSha256);
            out.writeUTF(tokenIdsSha256);
            out.writeInt(calibrationSamples);
            out.writeInt(sequenceLength);
            out.writeLong(seed);
            out.writeUTF(device);
            out.writeInt(layer);
            out.writeUTF(priorMasksSha256);
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory cannot fail", e);
        }
        return Digests.sha256().digest(bytes.toByteArray());
    }

    /** SHA-256 of the token ids, with each sequence's length, in sample order. */
    public static String tokenIdsSha256(List<int[]> sequences) {
        MessageDigest md = Digests.sha256();
        for (int[] ids : sequences) {
            ByteBuffer buffer = ByteBuffer.allocate(4 + ids.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buffer.putInt(ids.length);
            buffer.asIntBuffer().put(ids);
            md.update(buffer.array());
        }
        return Digests.hex(md.digest());
    }

    /**
     * Element {@code l} is the digest of the masks of layers {@code 0..l-1}, for {@code l = 0..upToLayer},
     * computed in one pass: each layer's seven tensor names in {@link Projection} order, each with its mask's
     * length and bits, or -1 when no mask was given (the layer ran dense).
     */
    public static String[] priorMaskDigests(Map<String, BitMask> masks, int upToLayer) {
        String[] digests = new String[upToLayer + 1];
        MessageDigest running = Digests.sha256();
        for (int l = 0; l <= upToLayer; l++) {
            digests[l] = Digests.hex(copy(running).digest());
            if (l == upToLayer) {
                break;
            }
            for (Projection p : Projection.values()) {
                String name = p.weightName(l);
                BitMask mask = masks.get(name);
                running.update(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                long[] words = mask == null ? new long[0] : mask.words();
                ByteBuffer buffer = ByteBuffer.allocate(8 + words.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                buffer.putLong(mask == null ? -1 : mask.length());
                buffer.asLongBuffer().put(words);
                running.update(buffer.array());
            }
        }
        return digests;
    }

    private static MessageDigest copy(MessageDigest md) {
        try {
            return (MessageDigest) md.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("the JDK's SHA-256 can be cloned", e);
        }
    }
}
