package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VoteVectorTest {

    @Test
    void fieldWidthHoldsEveryVoteCount() {
        assertEquals(1, VoteVector.fieldBitsFor(1));
        assertEquals(5, VoteVector.fieldBitsFor(20));
        assertEquals(6, VoteVector.fieldBitsFor(63));
        assertEquals(7, VoteVector.fieldBitsFor(64));
        assertThrows(IllegalArgumentException.class, () -> VoteVector.fieldBitsFor(0));
    }

    @Test
    void packsKBitsPerWeight() {
        assertEquals((1000L * 7 + 7) / 8, VoteVector.zeros(1000, 7).byteCount());
        assertEquals(7 * 202_375_168L / 8, VoteVector.zeros(202_375_168 / 64, 7).byteCount() * 64);
    }

    @Test
    void addAndSubtractAgreeWithFieldByFieldArithmeticForEveryWidth() {
        SplittableRandom random = new SplittableRandom(7);
        for (int k = 1; k <= VoteVector.MAX_FIELD_BITS; k++) {
            for (int n : new int[] {1, 63, 64, 65, 1000, 4099}) {
                long modulus = 1L << k;
                long[] xs = random.longs(n, 0, modulus).toArray();
                long[] ys = random.longs(n, 0, modulus).toArray();
                VoteVector x = fromValues(xs, k);
                VoteVector y = fromValues(ys, k);
                VoteVector sum = x.copy().add(y);
                VoteVector diff = x.copy().subtract(y);
                for (int i = 0; i < n; i++) {
                    assertEquals((xs[i] + ys[i]) & (modulus - 1), sum.get(i), "k=" + k + " n=" + n + " i=" + i);
                    assertEquals((xs[i] - ys[i]) & (modulus - 1), diff.get(i), "k=" + k + " n=" + n + " i=" + i);
                }
                assertEquals(x, diff.add(y), "subtract then add is the identity, k=" + k);
            }
        }
    }

    @Test
    void sumOfMaskVotesCountsVotesPerWeight() {
        SplittableRandom random = new SplittableRandom(3);
        int n = 1000;
        int agents = 20;
        int k = VoteVector.fieldBitsFor(agents);
        int[] counts = new int[n];
        List<VoteVector> votes = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            long[] mask = new long[(n + 63) / 64];
            for (int i = 0; i < n; i++) {
                if (random.nextBoolean()) {
                    mask[i >>> 6] |= 1L << i;
                    counts[i]++;
                }
            }
            votes.add(VoteVector.fromMask(mask, n, k));
        }
        VoteVector total = VoteVector.sum(votes);
        for (int i = 0; i < n; i++) {
            assertEquals(counts[i], total.get(i));
        }
    }

    @Test
    void fromMaskSetsExactlyTheVotedFieldsForEveryWidth() {
        SplittableRandom random = new SplittableRandom(8);
        for (int k = 1; k <= VoteVector.MAX_FIELD_BITS; k++) {
            int n = 1000 + k;
            long[] mask = new long[(n + 63) / 64];
            for (int i = 0; i < n; i++) {
                if (random.nextInt(3) == 0) {
                    mask[i >>> 6] |= 1L << i;
                }
            }
            VoteVector v = VoteVector.fromMask(mask, n, k);
            for (int i = 0; i < n; i++) {
                assertEquals(mask[i >>> 6] >>> i & 1, v.get(i), "k=" + k + " i=" + i);
            }
        }
    }

    @Test
    void bytesRoundTripAndRejectWrongLengthOrPadding() {
        long[] values = new SplittableRandom(1).longs(77, 0, 32).toArray();
        VoteVector v = fromValues(values, 5);
        byte[] bytes = v.toBytes();
        assertEquals(49, bytes.length);
        assertEquals(v, VoteVector.fromBytes(bytes, 77, 5));
        assertThrows(IllegalArgumentException.class, () -> VoteVector.fromBytes(new byte[48], 77, 5));
        byte[] padded = bytes.clone();
        padded[48] |= (byte) 0x80;
        assertThrows(IllegalArgumentException.class, () -> VoteVector.fromBytes(padded, 77, 5));
    }

    @Test
    void rejectsVectorsOfDifferentShapeAndMaskBitsPastTheEnd() {
        assertThrows(IllegalArgumentException.class, () -> VoteVector.zeros(10, 5).add(VoteVector.zeros(10, 6)));
        assertThrows(IllegalArgumentException.class, () -> VoteVector.fromMask(new long[] {1L << 20}, 10, 5));
        assertThrows(IllegalArgumentException.class, () -> VoteVector.zeros(10, 33));
    }

    @Test
    void prgIsDeterministicPerSeedAndAddSubtractCancels() {
        byte[] seed = new byte[32];
        seed[0] = 1;
        VoteVector a = MaskPrg.expand(seed, 5000, 7);
        assertEquals(a, MaskPrg.expand(seed, 5000, 7));
        seed[0] = 2;
        assertNotEquals(a, MaskPrg.expand(seed, 5000, 7));
        VoteVector v = VoteVector.zeros(5000, 7);
        MaskPrg.addTo(v, seed);
        MaskPrg.subtractFrom(v, seed);
        assertEquals(VoteVector.zeros(5000, 7), v);
        // a prefix of the stream is the same whatever the length: the mask is a pure function of the seed
        VoteVector longer = MaskPrg.expand(seed, 200_000, 7);
        VoteVector shorter = MaskPrg.expand(seed, 5000, 7);
        for (int i = 0; i < 5000; i++) {
            assertEquals(shorter.get(i), longer.get(i));
        }
    }

    @Test
    void prgMatchesTheDocumentedAesCtrDefinition() throws Exception {
        byte[] seed = new byte[32];
        for (int i = 0; i < 32; i++) {
            seed[i] = (byte) i;
        }
        javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/CTR/NoPadding");
        c.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(seed, "AES"), new javax.crypto.spec.IvParameterSpec(new byte[16]));
        byte[] stream = c.doFinal(new byte[(100 * 5 + 7) / 8]);
        stream[stream.length - 1] &= (byte) ((1 << (100 * 5 % 8)) - 1);
        assertArrayEquals(stream, MaskPrg.expand(seed, 100, 5).toBytes());
    }

    @Test
    void streamedMaskAddsLikeTheWholeMaskAcrossChunkBoundaries() throws Exception {
        // 300,001 fields of 7 bits span several 8192-word keystream chunks, with fields straddling words
        int n = 300_001;
        byte[] seed = new byte[32];
        seed[5] = 9;
        javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/CTR/NoPadding");
        c.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(seed, "AES"), new javax.crypto.spec.IvParameterSpec(new byte[16]));
        byte[] stream = c.doFinal(new byte[(n * 7 + 7) / 8]);
        stream[stream.length - 1] &= (byte) ((1 << (n * 7 % 8)) - 1);
        VoteVector whole = VoteVector.fromBytes(stream, n, 7);
        VoteVector base = fromValues(new SplittableRandom(4).longs(n, 0, 128).toArray(), 7);

        VoteVector streamed = base.copy();
        MaskPrg.addTo(streamed, seed);
        assertEquals(base.copy().add(whole), streamed);
        MaskPrg.subtractFrom(streamed, seed);
        assertEquals(base, streamed);
    }

    static VoteVector fromValues(long[] values, int k) {
        VoteVector v = VoteVector.zeros(values.length, k);
        // build by adding unit vectors scaled through repeated doubling would be slow; write the bit stream directly
        byte[] bytes = new byte[(int) v.byteCount()];
        for (int i = 0; i < values.length; i++) {
            for (int b = 0; b < k; b++) {
                if ((values[i] >>> b & 1) != 0) {
                    long bit = (long) i * k + b;
                    bytes[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
                }
            }
        }
        return VoteVector.fromBytes(bytes, values.length, k);
    }
}
