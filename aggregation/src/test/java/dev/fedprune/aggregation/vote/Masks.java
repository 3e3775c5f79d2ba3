package dev.fedprune.aggregation.vote;

import dev.fedprune.aggregation.format.BitMask;
import java.util.SplittableRandom;

/** Test helpers: masks from 0/1 matrices and random masks. */
final class Masks {
    private Masks() {
    }

    static BitMask of(int[][] bits) {
        int cols = bits[0].length;
        BitMask mask = new BitMask((long) bits.length * cols);
        for (int r = 0; r < bits.length; r++) {
            for (int c = 0; c < cols; c++) {
                if (bits[r][c] != 0) {
                    mask.set((long) r * cols + c);
                }
            }
        }
        return mask;
    }

    static int[] flat(int[][] values) {
        int cols = values[0].length;
        int[] out = new int[values.length * cols];
        for (int r = 0; r < values.length; r++) {
            System.arraycopy(values[r], 0, out, r * cols, cols);
        }
        return out;
    }

    static BitMask random(long length, double p, SplittableRandom random) {
        BitMask mask = new BitMask(length);
        for (long i = 0; i < length; i++) {
            if (random.nextDouble() < p) {
                mask.set(i);
            }
        }
        return mask;
    }

    /** A Wanda-like mask: exactly k set bits per row, at random columns. */
    static BitMask perRow(int rows, int cols, int k, SplittableRandom random) {
        BitMask mask = new BitMask((long) rows * cols);
        for (int r = 0; r < rows; r++) {
            int chosen = 0;
            for (int c = 0; c < cols; c++) {
                if (random.nextInt(cols - c) < k - chosen) {
                    mask.set((long) r * cols + c);
                    chosen++;
                }
            }
        }
        return mask;
    }
}
