package dev.fedprune.coordinator.sparsetrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.round.RoundSummary;
import dev.fedprune.proto.v1.SparseUpdate;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A training round with {@code robustAggregation}: three honest agents move the global model by +10%, one
 * attacker sends a model scaled by -10 (a scaled, sign-flipped update) or claims a huge sample count. The
 * plain mean follows the attacker; the median, the trimmed mean, clipping and the sample cap do not, and
 * the round summary says what each did.
 */
class RobustTrainingRoundTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    /** The global model after one round of three honest agents (x1.1, 100 samples) and one attacker. */
    Outcome round(String robustBlock, float attackerFactor, long attackerSamples) throws Exception {
        ArtifactStore artifacts = new ArtifactStore(dir.resolve("artifacts-" + System.nanoTime()));
        SparseTrainingMethod method = SparseTrainingMethodTest.create(JobSpecParser.parse(SparseTrainingMethodTest.SPEC + robustBlock),
                dir.resolve("job-" + System.nanoTime()), artifacts);
        Map<String, SparseTensor> before = SparseTrainingMethodTest.decode(weights(method, artifacts, 0));
        method.openRound(0);
        for (String agent : List.of("a", "b", "c")) {
            method.fold(0, agent, SparseTrainingMethodTest.upload(before, 1.1f, 100));
        }
        method.fold(0, "evil", SparseTrainingMethodTest.upload(before, attackerFactor, attackerSamples));
        RoundSummary summary = method.closeRound(0, id -> null);
        return new Outcome(before, SparseTrainingMethodTest.decode(weights(method, artifacts, 1)), JSON.readTree(summary.toJson()));
    }

    record Outcome(Map<String, SparseTensor> before, Map<String, SparseTensor> after, JsonNode summary) {
        /** The largest |after / before| deviation from {@code factor} over every nonzero weight. */
        double worstRatioError(float factor) {
            double worst = 0;
            for (String name : before.keySet()) {
                float[] b = before.get(name).toDense();
                float[] a = after.get(name).toDense();
                for (int i = 0; i < b.length; i++) {
                    if (Math.abs(b[i]) > 1e-6) {
                        worst = Math.max(worst, Math.abs(a[i] / b[i] - factor));
                    }
                }
            }
            return worst;
        }
    }

    static SparseUpdate weights(SparseTrainingMethod method, ArtifactStore artifacts, int round) throws Exception {
        return SparseUpdate.parseFrom(artifacts.read(method.taskTemplate(round).getTraining().getWeightsArtifactId()));
    }

    @Test
    void thePlainMeanFollowsAScaledSignFlippedAttacker() throws Exception {
        Outcome plain = round("", -10f, 100);
        float mean = (3 * 1.1f - 10) / 4;
        assertTrue(plain.worstRatioError(mean) < 1e-4, "plain " + plain.worstRatioError(mean));
        assertNull(plain.summary().get("defence"), "no defence, nothing reported");
    }

    @Test
    void theMedianKeepsTheHonestModel() throws Exception {
        Outcome median = round("robustAggregation: {rule: median}\n", -10f, 100);
        assertTrue(median.worstRatioError(1.1f) < 1e-5, "median " + median.worstRatioError(1.1f));
        assertEquals("median", median.summary().get("defence").get("rule").asString());
    }

    @Test
    void theTrimmedMeanDropsTheAttackerAtEveryCoordinateAndSaysHowMany() throws Exception {
        Outcome trimmed = round("robustAggregation: {rule: trimmed_mean, trimFraction: 0.25}\n", -10f, 100);
        assertTrue(trimmed.worstRatioError(1.1f) < 1e-5, "trimmed " + trimmed.worstRatioError(1.1f));
        assertEquals(1, trimmed.summary().get("defence").get("trimmedPerEnd").asInt());
    }

    @Test
    void clippingBoundsTheAttackersUpdateAndNamesIt() throws Exception {
        Outcome clipped = round("robustAggregation: {clipNorm: 0.5}\n", -10f, 100);
        Outcome plain = round("", -10f, 100);
        JsonNode defence = clipped.summary().get("defence");
        assertEquals("mean", defence.get("rule").asString());
        assertTrue(defence.get("clipped").valueStream().map(JsonNode::asString).toList().contains("evil"), defence.toString());
        assertTrue(clipped.worstRatioError(1.1f) < plain.worstRatioError(1.1f) / 5,
                "clipped " + clipped.worstRatioError(1.1f) + " vs plain " + plain.worstRatioError(1.1f));
    }

    @Test
    void theSampleCapStopsAnInflatedSampleCountFromOutweighingTheOthers() throws Exception {
        Outcome inflated = round("", 0.5f, 1_000_000);
        assertTrue(inflated.worstRatioError(0.5f) < 1e-3, "uncapped, the attacker's model wins");
        Outcome capped = round("robustAggregation: {sampleCap: 2}\n", 0.5f, 1_000_000);
        JsonNode defence = capped.summary().get("defence");
        assertEquals(200, defence.get("sampleCap").asLong(), "2 x the median report (100)");
        assertEquals("[\"evil\"]", defence.get("capped").toString());
        // Weights 100, 100, 100, 200: (3 x 1.1 + 2 x 0.5) / 5.
        assertTrue(capped.worstRatioError((3 * 1.1f + 2 * 0.5f) / 5) < 1e-4, "capped " + capped.worstRatioError((3 * 1.1f + 2 * 0.5f) / 5));
    }
}
