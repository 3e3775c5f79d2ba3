package dev.fedprune.aggregation.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MaskCodecTest {

    static BitMask random(long length, double p, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        BitMask mask = new BitMask(length);
        for (long i = 0; i < length; i++) {
            if (random.nextDouble() < p) {
                mask.set(i);
            }
        }
        return mask;
    }

    @Test
    void everyEncodingRoundTripsMasksOfAnyLengthAndDensity() {
        for (long length : new long[] {0, 1, 7, 63, 64, 65, 1000, 4099}) {
            for (double p : new double[] {0, 0.01, 0.3, 0.5, 0.9, 0.999, 1}) {
                BitMask mask = random(length, p, length * 31 + (long) (p * 1000));
                for (MaskEncoding e : MaskEncoding.values()) {
                    EncodedMask encoded = MaskCodec.encode(mask, e);
                    assertEquals(mask, MaskCodec.decode(e, length, encoded.data()), e + " length " + length + " p " + p);
                }
                assertEquals(mask, MaskCodec.decode(MaskCodec.encode(mask)), "auto length " + length + " p " + p);
            }
        }
    }

    @Test
    void entropyEncodedSizeIsPredictedExactly() {
        for (double p : new double[] {0.05, 0.5, 0.93}) {
            BitMask mask = random(10_000, p, 3);
            assertEquals(EntropyMaskCodec.encodedSize(mask), EntropyMaskCodec.encode(mask).length);
        }
    }

    @Test
    void sizingShortcutNeverExceedsTheExactSizeAndSkipsHalfDenseMasks() {
        for (double p : new double[] {0, 0.02, 0.2, 0.35, 0.45, 0.5, 0.6, 0.8, 0.98, 1}) {
            BitMask mask = random(20_000, p, 11);
            assertTrue(EntropyMaskCodec.lowerBoundBytes(mask) <= EntropyMaskCodec.encodedSize(mask), "p " + p);
        }
        assertEquals(null, EntropyMaskCodec.encodeIfSmaller(random(20_000, 0.5, 12), 2500));
    }

    @Test
    void ninetyPercentSparseMaskTravelsInWellUnderOneBitPerWeight() {
        BitMask mask = random(1 << 20, 0.9, 4);
        EncodedMask encoded = MaskCodec.encode(mask);
        assertEquals(MaskEncoding.ENTROPY, encoded.encoding());
        double bound = MaskCodec.entropyBoundBytes(mask.length(), mask.cardinality());
        assertTrue(encoded.bitsPerWeight() < 0.5, "bits per weight " + encoded.bitsPerWeight());
        assertTrue(encoded.sizeBytes() < bound * 1.05, encoded.sizeBytes() + " bytes vs bound " + bound);
    }

    @Test
    void seventyPercentSparseMaskIsEntropyCodedAndFiftyPercentStaysBitPacked() {
        assertEquals(MaskEncoding.ENTROPY, MaskCodec.encode(random(1 << 16, 0.7, 5)).encoding());
        EncodedMask half = MaskCodec.encode(random(1 << 16, 0.5, 6));
        assertEquals(MaskEncoding.BITPACKED, half.encoding());
        assertEquals((1 << 16) / 8, half.sizeBytes());
    }

    @Test
    void entropyFormatPinsHeaderRiceCodesAndLsbFirstBitOrder() {
        BitMask mask = new BitMask(10);
        mask.set(2);
        mask.set(5);
        // version 1, symbol 1 (set bits coded), k = 0, length 10, n = 2; gaps 2 and 2 as unary "110" "110"
        // -> stream bits 1,1,0,1,1,0 least significant first = 0b011011.
        byte[] expected = {1, 1, 0, 10, 2, 0b011011};
        assertArrayEquals(expected, EntropyMaskCodec.encode(mask));
        assertEquals(mask, EntropyMaskCodec.decode(10, expected));
    }

    @Test
    void entropyCodesTheClearBitsOfAMostlySetMask() {
        BitMask mask = new BitMask(70);
        for (int i = 0; i < 70; i++) {
            if (i != 3) {
                mask.set(i);
            }
        }
        byte[] data = EntropyMaskCodec.encode(mask);
        assertEquals(0, data[1], "coded symbol 0: positions of clear bits");
        assertEquals(mask, EntropyMaskCodec.decode(70, data));
    }

    @Test
    void entropyDecodeRejectsEveryTruncation() {
        BitMask mask = random(5000, 0.85, 7);
        byte[] data = EntropyMaskCodec.encode(mask);
        for (int cut = 0; cut < data.length; cut++) {
            byte[] prefix = Arrays.copyOf(data, cut);
            FormatException e = assertThrows(FormatException.class, () -> EntropyMaskCodec.decode(5000, prefix), "cut " + cut);
            assertTrue(e.getMessage().contains("entropy-coded mask"), e.getMessage());
        }
    }

    @Test
    void entropyDecodeRejectsInconsistentInput() {
        BitMask mask = random(1000, 0.1, 8);
        byte[] good = EntropyMaskCodec.encode(mask);
        assertMessage(() -> EntropyMaskCodec.decode(999, good), "length 1000 bits, expected 999");
        byte[] version = good.clone();
        version[0] = 2;
        assertMessage(() -> EntropyMaskCodec.decode(1000, version), "version 2");
        byte[] symbol = good.clone();
        symbol[1] = 5;
        assertMessage(() -> EntropyMaskCodec.decode(1000, symbol), "coded symbol 5");
        byte[] rice = good.clone();
        rice[2] = 63;
        assertMessage(() -> EntropyMaskCodec.decode(1000, rice), "Rice parameter 63");
        byte[] trailing = Arrays.copyOf(good, good.length + 1);
        assertMessage(() -> EntropyMaskCodec.decode(1000, trailing), "trailing");
        // One position only, gap 20 with k = 0 in a 10-bit mask: past the end.
        byte[] pastEnd = {1, 1, 0, 10, 1, (byte) 0xFF, (byte) 0xFF, (byte) 0x0F, 0};
        assertMessage(() -> EntropyMaskCodec.decode(10, pastEnd), "past the mask length");
        byte[] padding = {1, 1, 0, 10, 1, (byte) 0b1000_0010};
        assertMessage(() -> EntropyMaskCodec.decode(10, padding), "padding");
        byte[] tooMany = {1, 1, 0, 10, 11};
        assertMessage(() -> EntropyMaskCodec.decode(10, tooMany), "11 coded positions");
    }

    @Test
    void bitPackedDecodeRejectsWrongSizeAndBitsPastTheLength() {
        assertMessage(() -> MaskCodec.decode(MaskEncoding.BITPACKED, 20, new byte[2]), "must be 3 bytes, got 2");
        assertMessage(() -> MaskCodec.decode(MaskEncoding.BITPACKED, 20, new byte[] {0, 0, (byte) 0x10}), "past its length");
    }

    @Test
    void bitPackedBitOrderIsLittleEndianLsbFirst() {
        BitMask mask = new BitMask(16);
        mask.set(0);
        mask.set(9);
        assertArrayEquals(new byte[] {1, 2}, MaskCodec.encode(mask, MaskEncoding.BITPACKED).data());
    }

    @Test
    void encodingNamesMatchTheProtoEnum() {
        assertEquals("MASK_ENCODING_BITPACKED", MaskEncoding.BITPACKED.protoName());
        assertEquals(MaskEncoding.ENTROPY, MaskEncoding.fromProtoName("MASK_ENCODING_ENTROPY"));
        assertThrows(FormatException.class, () -> MaskEncoding.fromProtoName("MASK_ENCODING_UNSPECIFIED"));
    }

    @Test
    void entropyBoundIsShannonEntropyOfTheDensity() {
        assertEquals(1000 / 8.0, MaskCodec.entropyBoundBytes(1000, 500), 1e-9);
        double h = -(0.1 * Math.log(0.1) + 0.9 * Math.log(0.9)) / Math.log(2);
        assertEquals(1000 * h / 8, MaskCodec.entropyBoundBytes(1000, 900), 1e-9);
        assertEquals(0, MaskCodec.entropyBoundBytes(1000, 1000));
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable call, String fragment) {
        FormatException e = assertThrows(FormatException.class, call);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
