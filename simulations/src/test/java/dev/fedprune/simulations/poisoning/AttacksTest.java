package dev.fedprune.simulations.poisoning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.SparseTensorWire;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** What each attack changes in a contribution, and that it stays well formed. */
class AttacksTest {

    static Contribution update(String name, SparseTensor t, long samples) {
        return Contribution.newBuilder().setSampleCount(samples)
                .setSparseUpdate(SparseUpdate.newBuilder().addTensors(SparseTensorWire.encode(name, t))).build();
    }

    static SparseTensor sent(Contribution c) {
        var t = c.getSparseUpdate().getTensors(0);
        return SparseTensorWire.decode("t", t, t.getShape(0));
    }

    @Test
    void aScaledUpdateMovesEverySentValueFactorTimesAsFarFromTheGlobalModel() {
        SparseUpdate global = SparseUpdate.newBuilder().addTensors(SparseTensorWire.encode("w",
                new SparseTensor(5, new int[] {0, 1, 2, 3, 4}, new float[] {1, 2, 3, 4, 5}))).build();
        Contribution honest = update("w", new SparseTensor(5, new int[] {1, 3}, new float[] {2.5f, 3f}), 7);
        Contribution scaled = Attacks.scaleUpdate(honest, global, 10);
        assertArrayEquals(new int[] {1, 3}, sent(scaled).indices(), "the same active weights");
        assertArrayEquals(new float[] {2 + 10 * 0.5f, 4 + 10 * -1f}, sent(scaled).values());
        Contribution flipped = Attacks.scaleUpdate(honest, global, -1);
        assertArrayEquals(new float[] {1.5f, 5f}, sent(flipped).values());
        assertEquals(7, flipped.getSampleCount());
    }

    @Test
    void invertedMasksPruneWhatTheHonestMaskKeepsAtTheSameSparsity() {
        for (double sparsity : new double[] {0.5, 0.7, 0.3}) {
            BitMask honest = new BitMask(1000);
            SplittableRandom random = new SplittableRandom(1);
            while (honest.cardinality() < 1000 * sparsity) {
                honest.set(random.nextInt(1000));
            }
            Map<String, BitMask> masks = new LinkedHashMap<>();
            masks.put("a", honest);
            Contribution c = Contribution.newBuilder().setSampleCount(3).setMasks(MaskWire.encode(masks)).build();
            BitMask inverted = MaskWire.decode("m", Attacks.invertMasks(c, 5).getMasks()).get("a");
            assertEquals(honest.cardinality(), inverted.cardinality(), "sparsity " + sparsity);
            long overlap = 0;
            long keptPruned = 0;
            for (long i = 0; i < 1000; i++) {
                overlap += honest.get(i) && inverted.get(i) ? 1 : 0;
                keptPruned += !honest.get(i) && inverted.get(i) ? 1 : 0;
            }
            // As many of the honestly kept weights pruned as the sparsity allows, the rest from the honestly pruned ones.
            assertEquals(Math.min(honest.cardinality(), 1000 - honest.cardinality()), keptPruned, "sparsity " + sparsity);
            assertEquals(Math.max(0, 2 * honest.cardinality() - 1000), overlap, "sparsity " + sparsity);
        }
    }

    @Test
    void inflatedSamplesClaimTheFactorTimesTheRealCount() {
        Contribution honest = update("w", new SparseTensor(2, new int[] {0}, new float[] {1}), 40);
        assertEquals(4000, Attacks.inflateSamples(honest, 100).getSampleCount());
        assertEquals(honest.getSparseUpdate(), Attacks.inflateSamples(honest, 100).getSparseUpdate());
        assertEquals(41, Attacks.inflateSamples(honest, 1.01).getSampleCount(), "at least one more than the truth");
    }

    @Test
    void maliciousAgentsAreASeededChoiceOfTheRoundedFraction() {
        Poisoning p = new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.3, 1, 7);
        boolean[] a = p.malicious(10);
        int count = 0;
        for (boolean b : a) {
            count += b ? 1 : 0;
        }
        assertEquals(3, count);
        assertArrayEquals(a, new Poisoning(Poisoning.Attack.SCALED_UPDATE, 0.3, 10, 7).malicious(10), "the seed decides, not the attack");
        assertFalse(java.util.Arrays.equals(a, new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.3, 1, 8).malicious(10))
                && java.util.Arrays.equals(a, new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.3, 1, 9).malicious(10)), "another seed, other agents");
        assertEquals(2, countOf(new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.2, 1, 0).malicious(10)));
        assertArrayEquals(a, p.forRun(0).malicious(10), "a study's seed 0 keeps the setting's choice");
        assertEquals(3, countOf(p.forRun(1).malicious(10)));
        assertEquals(Poisoning.NONE, Poisoning.NONE.forRun(5));
        assertEquals(0, countOf(Poisoning.NONE.malicious(10)));
    }

    static int countOf(boolean[] a) {
        int n = 0;
        for (boolean b : a) {
            n += b ? 1 : 0;
        }
        return n;
    }

    @Test
    void labelsAndRefusals() {
        assertEquals("none", Poisoning.NONE.label());
        assertEquals("scaled_update x10 20%", new Poisoning(Poisoning.Attack.SCALED_UPDATE, 0.2, 10, 0).label());
        assertEquals("sign_flip 10%", new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.1, 1, 0).label());
        assertEquals("inverted_masks 30%", new Poisoning(Poisoning.Attack.INVERTED_MASKS, 0.3, 0, 0).label());
        assertNotEquals(new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.1, 2, 0).label(), new Poisoning(Poisoning.Attack.SIGN_FLIP, 0.1, 1, 0).label());
        assertThrows(IllegalArgumentException.class, () -> new Poisoning(Poisoning.Attack.SIGN_FLIP, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Poisoning(Poisoning.Attack.NONE, 0.1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Poisoning(Poisoning.Attack.SIGN_FLIP, 1, 1, 0));
        assertTrue(new Poisoning(Poisoning.Attack.INVERTED_MASKS_INFLATED, 0.1, 100, 0).label().startsWith("inverted_masks_inflated x100"));
    }
}
