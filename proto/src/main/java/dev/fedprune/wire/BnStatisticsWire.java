package dev.fedprune.wire;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.sparsetrain.BnStatistics;
import dev.fedprune.proto.v1.BnLayerStatistics;
import dev.fedprune.proto.v1.BnStatisticsSet;
import java.util.LinkedHashMap;
import java.util.Map;

/** The one conversion between BatchNorm running statistics and their wire message. */
public final class BnStatisticsWire {
    private BnStatisticsWire() {
    }

    public static BnStatisticsSet encode(Map<String, BnStatistics> statistics) {
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

    /**
     * Statistics checked against the expected BatchNorm layers and channel counts: every layer once,
     * finite means, non-negative finite variances.
     *
     * @param field the set's name in errors, e.g. {@code candidate_bn_statistics.candidates[0]}
     */
    public static Map<String, BnStatistics> decode(String field, BnStatisticsSet set, Map<String, Integer> channels) {
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
