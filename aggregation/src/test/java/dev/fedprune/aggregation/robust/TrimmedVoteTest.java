package dev.fedprune.aggregation.robust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.vote.ComparisonGroup;
import dev.fedprune.aggregation.vote.SelectionSpec;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TrimmedVoteTest {
    static final Map<String, long[]> SHAPES = Map.of("t", new long[] {16, 32});
    static final SelectionSpec SPEC = SelectionSpec.unstructured(ComparisonGroup.LAYER, 0.5, 3);

    /** Honest agents prune around a shared "true" mask; adversaries prune its complement. */
    static Map<String, Map<String, BitMask>> contributions(int honest, int adversarial) {
        SplittableRandom random = new SplittableRandom(1);
        BitMask truth = new BitMask(512);
        for (int i = 0; i < 512; i++) {
            if (i % 2 == 0) {
                truth.set(i);
            }
        }
        Map<String, Map<String, BitMask>> out = new LinkedHashMap<>();
        for (int a = 0; a < honest + adversarial; a++) {
            BitMask m = new BitMask(512);
            for (int i = 0; i < 512; i++) {
                boolean bit = truth.get(i) ^ (random.nextDouble() < 0.1);
                m.set(i, a < honest ? bit : !truth.get(i));
            }
            out.put(a < honest ? "honest" + a : "bad" + a, Map.of("t", m));
        }
        return out;
    }

    @Test
    void agreementReportsHammingDistancePerAgentAndTensor() {
        BitMask consensus = new BitMask(8);
        consensus.set(0);
        consensus.set(1);
        BitMask same = consensus.copy();
        BitMask twoOff = consensus.copy();
        twoOff.set(1, false);
        twoOff.set(5);
        AgreementReport report = AgreementReport.agreement("t", consensus, Map.of("same", same, "off", twoOff));
        Map<String, Long> byAgent = new LinkedHashMap<>();
        report.agents().forEach(a -> byAgent.put(a.agentId(), a.hammingByTensor().get("t")));
        assertEquals(Map.of("same", 0L, "off", 2L), byAgent);
        assertEquals(List.of("off"), report.farthest(0.5));

        AgreementReport second = AgreementReport.agreement("u", consensus, Map.of("same", twoOff, "off", twoOff));
        AgreementReport merged = report.merge(second);
        AgentAgreement same2 = merged.agents().stream().filter(a -> a.agentId().equals("same")).findFirst().orElseThrow();
        assertEquals(2, same2.distance());
        assertEquals(16, same2.bits());
        assertEquals(Map.of("t", 0L, "u", 2L), same2.hammingByTensor());
    }

    @Test
    void trimmedVoteDropsTheAgentsFarthestFromConsensusAndEqualsTheVoteOfTheRest() throws IOException {
        Map<String, Map<String, BitMask>> all = contributions(8, 2);
        VoteAccumulator acc = new VoteAccumulator(SHAPES);
        all.forEach(acc::fold);
        TrimmedVote.Result result = TrimmedVote.run(acc, SPEC, 0.2, all::get);

        assertEquals(List.of("bad8", "bad9"), result.excluded().stream().sorted().toList());
        VoteAccumulator honestOnly = new VoteAccumulator(SHAPES);
        all.forEach((agent, masks) -> {
            if (agent.startsWith("honest")) {
                honestOnly.fold(agent, masks);
            }
        });
        assertArrayEquals(honestOnly.votes("t"), acc.votes("t"));
        assertEquals(honestOnly.select("t", SPEC), result.trimmedMasks().get("t"));
        assertEquals(10, result.agreement().agents().size());
        double worstHonest = result.agreement().agents().stream().filter(a -> a.agentId().startsWith("honest"))
                .mapToDouble(AgentAgreement::disagreement).max().orElseThrow();
        double bestBad = result.agreement().agents().stream().filter(a -> a.agentId().startsWith("bad"))
                .mapToDouble(AgentAgreement::disagreement).min().orElseThrow();
        assertTrue(bestBad > worstHonest);
    }

    @Test
    void zeroTrimFractionKeepsEveryAgent() throws IOException {
        Map<String, Map<String, BitMask>> all = contributions(3, 1);
        VoteAccumulator acc = new VoteAccumulator(SHAPES);
        all.forEach(acc::fold);
        TrimmedVote.Result result = TrimmedVote.run(acc, SPEC, 0, all::get);
        assertEquals(List.of(), result.excluded());
        assertEquals(result.consensus(), result.trimmedMasks());
        assertEquals(4, acc.agentCount());
    }

    @Test
    void trimFractionMustLeaveAgents() {
        AgreementReport report = new AgreementReport(List.of());
        assertThrows(IllegalArgumentException.class, () -> report.farthest(1.0));
        assertThrows(IllegalArgumentException.class, () -> report.farthest(-0.1));
    }

    @Test
    void sparsityCheckRejectsOnlyMasksBeyondTheTolerance() {
        SparsityCheck check = new SparsityCheck(0.5, 0.1);
        BitMask m = new BitMask(10);
        for (int i = 0; i < 6; i++) {
            m.set(i);
        }
        check.check("t", m);
        m.set(6);
        var e = assertThrows(dev.fedprune.aggregation.InvalidContributionException.class, () -> check.check("t", m));
        assertEquals("masks[t]", e.field());
        assertTrue(e.getMessage().contains("sparsity 0.700000 (7 of 10 pruned)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SparsityCheck(1.5, 0.1));
    }
}
