package dev.fedprune.coordinator.sparsetrain;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparse.SparseTensorParts;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.proto.v1.BnLayerStatistics;
import dev.fedprune.proto.v1.BnStatisticsSet;
import dev.fedprune.proto.v1.DType;
import dev.fedprune.proto.v1.IndexEncoding;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts between the wire messages of sparse training and the aggregation module's values, checking them. */
final class TrainingWire {

    private TrainingWire() {
    }

    static dev.fedprune.proto.v1.SparseTensor toWire(String name, long size, SparseTensor tensor) {
        return dev.fedprune.proto.v1.SparseTensor.newBuilder().setTensorName(name).addShape(size).setNumValues(tensor.nonZeroCount())
                .setIndexEncoding(IndexEncoding.INDEX_ENCODING_DELTA_VARINT).setIndices(ByteString.copyFrom(SparseTensorParts.indices(tensor)))
                .setValueDtype(DType.DTYPE_F32).setValues(ByteString.copyFrom(SparseTensorParts.values(tensor))).build();
    }

    /**
     * The tensors of a list, by name, each decoded and checked to have {@code expectedSizes.get(name)}
     * elements; an unknown name, a repeated one, another index encoding or value type is refused.
     *
     * @param field the list's name in errors, e.g. {@code sparse_update.tensors}
     */
    static Map<String, SparseTensor> fromWire(String field, List<dev.fedprune.proto.v1.SparseTensor> tensors, Map<String, Long> expectedSizes) {
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
            long elements = 1;
            for (long d : t.getShapeList()) {
                elements *= d;
            }
            if (t.getShapeCount() == 0 || elements != size) {
                throw new InvalidContributionException(f + ".shape", "shape " + t.getShapeList() + " holds " + elements + " elements, the job's tensor " + size);
            }
            if (t.getNumValues() > 0 && t.getIndexEncoding() != IndexEncoding.INDEX_ENCODING_DELTA_VARINT) {
                throw new InvalidContributionException(f + ".index_encoding", "expected INDEX_ENCODING_DELTA_VARINT, got " + t.getIndexEncoding());
            }
            if (t.getNumValues() > 0 && t.getValueDtype() != DType.DTYPE_F32) {
                throw new InvalidContributionException(f + ".value_dtype", "expected DTYPE_F32, got " + t.getValueDtype());
            }
            try {
                out.put(t.getTensorName(), SparseTensorParts.decode(f, size, t.getNumValues(), t.getIndices().toByteArray(), t.getValues().toByteArray()));
            } catch (FormatException e) {
                throw new InvalidContributionException(f, e.getMessage().startsWith(f) ? e.getMessage().substring(f.length() + 2) : e.getMessage());
            }
        }
        return out;
    }

    static BnStatisticsSet toWire(Map<String, BnStatistics> statistics) {
        BnStatisticsSet.Builder set = BnStatisticsSet.newBuilder();
        statistics.forEach((layer, s) -> {
            BnLayerStatistics.Builder b = BnLayerStatistics.newBuilder().setLayer(layer);
            for (float v : s.mean()) {
                b.addMean(v);
            }
            for (float v : s.variance()) {
                b.addVariance(v);
            }
            set.addLayers(b);
        });
        return set.build();
    }

    /** One candidate's statistics, checked against the job's BatchNorm layers and channel counts. */
    static Map<String, BnStatistics> fromWire(String field, BnStatisticsSet set, Map<String, Integer> channels) {
        Map<String, BnStatistics> out = new LinkedHashMap<>();
        for (BnLayerStatistics l : set.getLayersList()) {
            String f = field + "[" + l.getLayer() + "]";
            Integer c = channels.get(l.getLayer());
            if (c == null) {
                throw new InvalidContributionException(f, "unknown BatchNorm layer; expected one of " + channels.keySet());
            }
            if (out.containsKey(l.getLayer())) {
                throw new InvalidContributionException(f, "layer appears twice");
            }
            if (l.getMeanCount() != c || l.getVarianceCount() != c) {
                throw new InvalidContributionException(f, l.getMeanCount() + " means and " + l.getVarianceCount() + " variances, expected " + c + " of each");
            }
            float[] mean = new float[c];
            float[] variance = new float[c];
            for (int i = 0; i < c; i++) {
                mean[i] = l.getMean(i);
                variance[i] = l.getVariance(i);
            }
            BnStatistics s = new BnStatistics(mean, variance);
            String problem = s.problem();
            if (problem != null) {
                throw new InvalidContributionException(f, problem);
            }
            out.put(l.getLayer(), s);
        }
        for (String layer : channels.keySet()) {
            if (!out.containsKey(layer)) {
                throw new InvalidContributionException(field, "BatchNorm layer '" + layer + "' is missing");
            }
        }
        return out;
    }
}
