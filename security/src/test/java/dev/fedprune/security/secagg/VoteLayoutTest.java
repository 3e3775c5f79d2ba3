package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VoteLayoutTest {

    @Test
    void concatenatedMasksSumToEachTensorsCountsAtItsOffset() {
        long[] lengths = {70, 1, 128, 63, 200};
        SplittableRandom random = new SplittableRandom(3);
        int agents = 5;
        int total = 0;
        for (long l : lengths) {
            total += (int) l;
        }
        int[] expected = new int[total];
        VoteVector sum = VoteVector.zeros(total, VoteVector.fieldBitsFor(agents));
        for (int a = 0; a < agents; a++) {
            List<long[]> masks = new ArrayList<>();
            int offset = 0;
            for (long length : lengths) {
                long[] words = new long[(int) ((length + 63) >>> 6)];
                for (int i = 0; i < length; i++) {
                    if (random.nextBoolean()) {
                        words[i >>> 6] |= 1L << i;
                        expected[offset + i]++;
                    }
                }
                masks.add(words);
                offset += (int) length;
            }
            sum.add(VoteVector.fromMask(VoteLayout.concatenate(masks, lengths), total, sum.fieldBits()));
        }
        assertArrayEquals(expected, VoteLayout.counts(sum, 0, total));
        int[] third = VoteLayout.counts(sum, 71, 128);
        assertEquals(expected[71 + 127], third[127]);
    }
}
