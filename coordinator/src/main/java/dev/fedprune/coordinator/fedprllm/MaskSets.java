package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.EncodedMask;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.format.MaskCodec;
import dev.fedprune.proto.v1.MaskEncoding;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.TensorMask;
import com.google.protobuf.ByteString;
import java.util.LinkedHashMap;
import java.util.Map;

/** Converts between wire mask sets and bit masks, checking names, sizes and encodings. */
public final class MaskSets {
    private MaskSets() {
    }

    /**
     * @param expected tensor name to number of weights; every one must be present, nothing else
     */
    public static Map<String, BitMask> decode(MaskSet set, Map<String, Long> expected) {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        for (TensorMask m : set.getMasksList()) {
            String field = "masks[" + m.getTensorName() + "]";
            Long weights = expected.get(m.getTensorName());
            if (weights == null) {
                throw new InvalidContributionException(field, "unknown tensor for this task; expected one of " + expected.size() + " tensors such as '" + expected.keySet().iterator().next() + "'");
            }
            if (m.getNumWeights() != weights) {
                throw new InvalidContributionException(field + ".num_weights", "mask of wrong length: " + m.getNumWeights() + ", expected " + weights);
            }
            if (masks.containsKey(m.getTensorName())) {
                throw new InvalidContributionException(field, "tensor appears twice");
            }
            try {
                masks.put(m.getTensorName(), MaskCodec.decode(dev.fedprune.aggregation.format.MaskEncoding.fromProtoName(m.getEncoding().name()),
                        weights, m.getData().toByteArray()));
            } catch (FormatException e) {
                throw new InvalidContributionException(field + ".data", e.getMessage());
            }
        }
        for (String name : expected.keySet()) {
            if (!masks.containsKey(name)) {
                throw new InvalidContributionException("masks", "missing mask for tensor '" + name + "'");
            }
        }
        return masks;
    }

    /** Each mask in whichever encoding is smaller (bit-packed or entropy-coded). */
    public static MaskSet encode(Map<String, BitMask> masks) {
        MaskSet.Builder set = MaskSet.newBuilder();
        masks.forEach((name, mask) -> {
            EncodedMask encoded = MaskCodec.encode(mask);
            set.addMasks(TensorMask.newBuilder().setTensorName(name).setNumWeights(mask.length())
                    .setEncoding(MaskEncoding.valueOf(encoded.encoding().protoName())).setData(ByteString.copyFrom(encoded.data())));
        });
        return set.build();
    }
}
