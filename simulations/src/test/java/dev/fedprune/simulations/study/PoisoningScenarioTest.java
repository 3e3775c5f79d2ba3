package dev.fedprune.simulations.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static dev.fedprune.simulations.study.TrainingScenarioTest.assertRefused;

import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.simulations.poisoning.Poisoning;
import dev.fedprune.simulations.poisoning.Poisoning.Attack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The poisoning and defences keys of study scenarios: grid dimensions, checked with file, line and field. */
class PoisoningScenarioTest {
    @TempDir
    Path dir;

    @BeforeEach
    void data() throws Exception {
        IdxWriter.write(dir.resolve("images"), FashionMnist.Split.TRAIN, TrainingScenarioTest.numbered(400));
        IdxWriter.write(dir.resolve("images"), FashionMnist.Split.TEST, TrainingScenarioTest.numbered(100));
        SyntheticLlama.write(dir.resolve("model"), new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 4);
        Files.writeString(dir.resolve("calib.jsonl"), "{\"ids\": [1, 5]}\n".repeat(12));
    }

    TrainingScenario training(String yaml) throws Exception {
        return TrainingScenario.load(Files.writeString(dir.resolve("t.yaml"), "data: images\nagents: 4\nmethods: [static_sparse]\nchannels: [4, 8]\n" + yaml));
    }

    StudyScenario voting(String yaml) throws Exception {
        return StudyScenario.load(Files.writeString(dir.resolve("v.yaml"), "model: model\ncalibration: calib.jsonl\nagents: 4\n" + yaml));
    }

    @Test
    void everyTrainingRunIsRepeatedPerPoisoningSettingAndDefence() throws Exception {
        TrainingScenario s = training("""
            seed: 5
            defences:
              - none
              - {name: median, robustAggregation: {rule: median}}
            poisoning:
              - {attack: none}
              - {attack: sign_flip, factor: 4, fraction: [0.25, 0.5]}
            """);
        assertEquals(List.of(Poisoning.NONE, new Poisoning(Attack.SIGN_FLIP, 0.25, 4, 5), new Poisoning(Attack.SIGN_FLIP, 0.5, 4, 5)), s.poisoning());
        List<TrainingScenario.Run> runs = s.runs();
        assertEquals(6, runs.size());
        assertEquals(List.of("static_sparse-d0.10", "static_sparse-d0.10-median", "static_sparse-d0.10-none-sign_flip-x4-25",
                "static_sparse-d0.10-median-sign_flip-x4-25", "static_sparse-d0.10-none-sign_flip-x4-50", "static_sparse-d0.10-median-sign_flip-x4-50"),
                runs.stream().map(TrainingScenario.Run::directoryName).toList());
        assertNull(s.jobSpec(runs.get(0)).get("robustAggregation"));
        assertEquals(Map.of("rule", "median"), s.jobSpec(runs.get(1)).get("robustAggregation"));
        assertEquals(List.of(Poisoning.NONE), training("").poisoning(), "no key: nobody attacks");
        assertEquals(List.of(TrainingScenario.Defence.NONE), training("").defences());
    }

    @Test
    void badPoisoningAndDefencesAreRefusedWithLineAndField() throws Exception {
        assertRefused("t.yaml:6: poisoning[0].attack: expected one of [none, scaled_update, sign_flip, inverted_masks, inflated_samples, "
                + "inverted_masks_inflated], got 'krum'", () -> training("poisoning:\n  - {attack: krum, fraction: 0.1}\n"));
        assertRefused("poisoning.fraction: required", () -> training("poisoning: {attack: sign_flip}\n"));
        assertRefused("poisoning.fraction: each fraction of malicious agents must be in (0, 1), got 1", () -> training("poisoning: {attack: sign_flip, fraction: 1}\n"));
        assertRefused("poisoning.factor: inverted_masks has no strength", () -> training("poisoning: {attack: inverted_masks, fraction: 0.1, factor: 2}\n"));
        assertRefused("poisoning.factor: inflated_samples claims factor x the real sample count: expected more than 1", () -> training("poisoning: {attack: inflated_samples, fraction: 0.1, factor: 0.5}\n"));
        assertRefused("poisoning.fractions: unknown key", () -> training("poisoning: {attack: sign_flip, fractions: [0.1]}\n"));
        assertRefused("poisoning.attack: attack none takes no fraction", () -> training("poisoning: {attack: none, fraction: 0.1}\n"));
        assertRefused("is listed twice", () -> training("poisoning: [{attack: sign_flip, fraction: 0.1}, {attack: sign_flip, fraction: [0.2, 0.1]}]\n"));
        assertRefused("t.yaml:5: defences[0]: expected none or {name: ..., robustAggregation: {...}}", () -> training("defences: [median]\n"));
        assertRefused("defences[0].robust: unknown key", () -> training("defences: [{name: m, robust: {rule: median}}]\n"));
        // The coordinator's own parser checks the block, before anything runs.
        assertRefused("with defence bad: robustAggregation.trimFraction: required for rule trimmed_mean",
                () -> training("defences: [{name: bad, robustAggregation: {rule: trimmed_mean}}]\n"));
        assertRefused("robustAggregation.trimFraction: trims no agent of a round of 4",
                () -> training("defences: [{name: small, robustAggregation: {rule: trimmed_mean, trimFraction: 0.1}}]\n"));
    }

    @Test
    void votingStudiesTakeTheSameKey() throws Exception {
        StudyScenario s = voting("""
            methods: [{name: counted, spec: {method: fedprllm, voteWeighting: samples, sampleCap: 2}}]
            poisoning: [{attack: none}, {attack: inverted_masks_inflated, fraction: 0.25, seed: 9}]
            """);
        assertEquals(List.of(Poisoning.NONE, new Poisoning(Attack.INVERTED_MASKS_INFLATED, 0.25, 100, 9)), s.poisoning());
        assertEquals(s.poisoning(), s.restrict(List.of(), List.of(), List.of(), List.of()).poisoning());
        assertEquals(List.of(Poisoning.NONE), voting("").poisoning());
        assertRefused("v.yaml:4: poisoning[0]: expected a mapping", () -> voting("poisoning: [sign_flip]\n"));
    }
}
