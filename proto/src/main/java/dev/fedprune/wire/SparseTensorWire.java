package dev.fedprune.wire;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparse.SparseTensorParts;
import dev.fedprune.proto.v1.DType;
import dev.fedprune.proto.v1.IndexEncoding;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one conversion between sparse tensors and their wire message: ascending flat indices as
 * delta varints, values as little-endian F32. Decoding checks shape, encodings and indices.
 */
public final class SparseTensorWire {
    private SparseTensorWire() {
    }

    public static dev.fedprune.proto.v1.SparseTensor encode(String name, SparseTensor tensor) {
        return dev.fedprune.proto.v1.SparseTensor.newBuilder().setTensorName(name).addShape(tensor.size()).setNumValues(tensor.nonZeroCount())
                .setIndexEncoding(IndexEncoding.INDEX_ENCODING_DELTA_VARINT).setIndices(ByteString.copyFrom(SparseTensorParts.indices(tensor)))
                .setValueDtype(DType.DTYPE_F32).setValues(ByteString.copyFrom(SparseTensorParts.values(tensor))).build();
    }

    /**
     * One tensor, checked to hold {@code size} elements.
     *
     * @param field the tensor's name in errors, e.g. {@code sparse_update.tensors[conv1.weight]}
     */
    public static SparseTensor decode(String field, dev.fedprune.proto.v1.SparseTensor t, long size) {
        long elements = 1;
        for (long d : t.getShapeList()) {
            elements *= d;
        }
        if (t.getShapeCount() == 0 || elements != size) {
            throw new InvalidContributionException(field + ".shape", "shape " + t.getShapeList() + " holds " + elements + " elements, the job's tensor " + size);
        }
        if (t.getNumValues() > 0 && t.getIndexEncoding() != IndexEncoding.INDEX_ENCODING_DELTA_VARINT) {
            throw new InvalidContributionException(field + ".index_encoding", "expected INDEX_ENCODING_DELTA_VARINT, got " + t.getIndexEncoding());
        }
        if (t.getNumValues() > 0 && t.getValueDtype() != DType.DTYPE_F32) {
            throw new InvalidContributionException(field + ".value_dtype", "expected DTYPE_F32, got " + t.getValueDtype());
        }
        try {
            return SparseTensorParts.decode(field, size, t.getNumValues(), t.getIndices().toByteArray(), t.getValues().toByteArray());
        } catch (FormatException e) {
            throw new InvalidContributionException(field, e.getMessage().startsWith(field) ? e.getMessage().substring(field.length() + 2) : e.getMessage());
        }
    }

    /**
     * The tensors of a list, by name, each decoded and checked to have {@code expectedSizes.get(name)}
     * elements; an unknown name or a repeated one is refused.
     *
     * @param field the list's name in errors, e.g. {@code sparse_update.tensors}
     */
    public static Map<String, SparseTensor> decode(String field, List<dev.fedprune.proto.v1.SparseTensor> tensors, Map<String, Long> expectedSizes) {
        Map<String, SparseTensor> out = new LinkedHashMap<>();
        for (dev.fedprune.proto.v1.SparseTensor t : tensors) {
            String f = field + "[" + t.getTensorName() + "]";
            Long size = expectedSizes.get(t.getTensorName());
            if (size == null) {
                throw new InvalidContributionException(f, "unknown tensor for this task; expected one of " + expectedSizes.keySet());
            }
            if (out.containsKey(t.getTensorName())) {
                throw new InvalidContributionException(f, "tensor appears twice");
            }
            out.put(t.getTensorName(), decode(f, t, size));
        }
        return out;
    }
}
