package dev.fedprune.wire;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.EncodedMask;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.MaskCodec;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.TensorMask;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one conversion between bit masks and their wire messages ({@code TensorMask}, {@code MaskSet}),
 * used by agents and coordinator alike. Encoding picks whichever of bit-packed and entropy-coded is
 * smaller; decoding checks names, lengths and encodings and names the field at fault.
 */
public final class MaskWire {
    private MaskWire() {
    }

    public static TensorMask encode(String tensorName, BitMask mask) {
        EncodedMask encoded = MaskCodec.encode(mask);
        return TensorMask.newBuilder().setTensorName(tensorName).setNumWeights(mask.length())
                .setEncoding(MaskEncoding.valueOf(encoded.encoding().protoName())).setData(ByteString.copyFrom(encoded.data())).build();
    }

    public static MaskSet encode(Map<String, BitMask> masks) {
        MaskSet.Builder set = MaskSet.newBuilder();
        masks.forEach((name, mask) -> set.addMasks(encode(name, mask)));
        return set.build();
    }

    /**
     * Decodes one mask's bytes.
     *
     * @param field the mask's name in errors, e.g. {@code masks[model.layers.0.mlp.up_proj.weight]}
     */
    public static BitMask decode(String field, int encoding, long numWeights, byte[] data) {
        MaskEncoding wire = MaskEncoding.forNumber(encoding);
        if (wire == null || wire == MaskEncoding.UNRECOGNIZED) {
            throw new InvalidContributionException(field + ".encoding", "unknown mask encoding " + encoding);
        }
        try {
            return MaskCodec.decode(dev.fedprune.aggregation.format.MaskEncoding.fromProtoName(wire.name()), numWeights, data);
        } catch (FormatException | IllegalArgumentException e) {
            throw new InvalidContributionException(field + ".data", e.getMessage());
        }
    }

    /**
     * The masks of a set, by name, each checked against {@code expected}: every expected tensor once,
     * with its number of weights, and nothing else.
     *
     * @param field    the set's name in errors, e.g. {@code masks}
     * @param expected tensor name to number of weights
     */
    public static Map<String, BitMask> decode(String field, MaskSet set, Map<String, Long> expected) {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (TensorMask m : set.getMasksList()) {
            String at = field + "[" + m.getTensorName() + "]";
            checkEntry(at, m.getTensorName(), m.getNumWeights(), expected, masks.containsKey(m.getTensorName()));
            masks.put(m.getTensorName(), decode(at, m.getEncodingValue(), m.getNumWeights(), m.getData().toByteArray()));
        }
        checkComplete(field, expected, masks);
        return masks;
    }

    /** Every mask of a set, by name, trusting its declared lengths (a set the coordinator signed). */
    public static Map<String, BitMask> decode(String field, MaskSet set) {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (TensorMask m : set.getMasksList()) {
            masks.put(m.getTensorName(), decode(field + "[" + m.getTensorName() + "]", m.getEncodingValue(), m.getNumWeights(), m.getData().toByteArray()));
        }
        return masks;
    }

    /** One entry of a mask set against what the task asked for. */
    public static void checkEntry(String at, String name, long numWeights, Map<String, Long> expected, boolean seenBefore) {
        Long weights = expected.get(name);
        if (weights == null) {
            throw new InvalidContributionException(at, "unknown tensor for this task; expected one of " + expected.size()
                    + " tensors such as '" + expected.keySet().iterator().next() + "'");
        }
        if (numWeights != weights) {
            throw new InvalidContributionException(at + ".num_weights", "mask of wrong length: " + numWeights + ", expected " + weights);
        }
        if (seenBefore) {
            throw new InvalidContributionException(at, "tensor appears twice");
        }
    }

    /** Every expected tensor is present. */
    public static void checkComplete(String field, Map<String, Long> expected, Map<String, ?> found) {
        for (String name : expected.keySet()) {
            if (!found.containsKey(name)) {
                throw new InvalidContributionException(field, "missing mask for tensor '" + name + "'");
            }
        }
    }
}
