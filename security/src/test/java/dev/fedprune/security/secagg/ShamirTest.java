package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ShamirTest {
    final SecureRandom random = new SecureRandom();

    @Test
    void anyThresholdSharesReconstructTheSeed() {
        Random pick = new Random(5);
        for (int trial = 0; trial < 50; trial++) {
            byte[] secret = new byte[32];
            random.nextBytes(secret);
            if (trial == 0) {
                Arrays.fill(secret, (byte) 0xFF);
            }
            if (trial == 1) {
                Arrays.fill(secret, (byte) 0);
            }
            List<SeedShare> shares = new ArrayList<>(Shamir.split(secret, 5, 8, random));
            Collections.shuffle(shares, pick);
            int take = 5 + pick.nextInt(4);
            assertArrayEquals(secret, Shamir.combine(shares.subList(0, take), 5));
        }
    }

    @Test
    void fewerThanThresholdSharesAreRefusedAndInterpolateToSomethingElse() {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        List<SeedShare> shares = Shamir.split(secret, 5, 8, random);
        assertThrows(IllegalArgumentException.class, () -> Shamir.combine(shares.subList(0, 4), 5));
        BigInteger guess = Shamir.interpolateAtZero(shares.subList(0, 4));
        assertFalse(guess.equals(new BigInteger(1, secret)));
    }

    @Test
    void thresholdMinusOneSharesAreConsistentWithEverySecret() {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        List<SeedShare> four = Shamir.split(secret, 5, 8, random).subList(0, 4);
        for (int trial = 0; trial < 10; trial++) {
            // for any candidate secret, the 4 shares plus (0, candidate) lie on one polynomial of degree 4:
            // the shares rule out no candidate, so they reveal nothing about the seed
            BigInteger candidate = new BigInteger(256, random);
            List<SeedShare> withCandidate = new ArrayList<>(four);
            BigInteger[] xs = {BigInteger.ZERO, BigInteger.ONE, BigInteger.TWO, BigInteger.valueOf(3), BigInteger.valueOf(4)};
            // evaluate the degree-4 interpolant through (0, candidate) and the four shares at x = 5
            BigInteger at5 = lagrangeAt(BigInteger.valueOf(5), xs, new BigInteger[] {candidate, four.get(0).y(), four.get(1).y(), four.get(2).y(), four.get(3).y()});
            withCandidate.add(new SeedShare(5, at5));
            assertEquals(candidate, Shamir.interpolateAtZero(withCandidate));
        }
    }

    @Test
    void refusesDuplicatePointsWithDifferentValuesAndOutOfRangeResults() {
        byte[] secret = new byte[32];
        List<SeedShare> shares = new ArrayList<>(Shamir.split(secret, 2, 3, random));
        shares.add(new SeedShare(1, shares.get(0).y().add(BigInteger.ONE).mod(Shamir.PRIME)));
        assertThrows(CorruptSharesException.class, () -> Shamir.combine(shares, 2));
        List<SeedShare> tampered = List.of(new SeedShare(1, BigInteger.TWO.pow(400)), new SeedShare(2, BigInteger.ONE));
        assertThrows(CorruptSharesException.class, () -> Shamir.combine(tampered, 2));
    }

    @Test
    void sharesRoundTripThroughBytes() {
        for (SeedShare s : Shamir.split(new byte[32], 3, 5, random)) {
            assertEquals(s, SeedShare.fromBytes(s.toBytes()));
        }
    }

    private static BigInteger lagrangeAt(BigInteger x, BigInteger[] xs, BigInteger[] ys) {
        BigInteger p = Shamir.PRIME;
        BigInteger sum = BigInteger.ZERO;
        for (int i = 0; i < xs.length; i++) {
            BigInteger term = ys[i];
            for (int j = 0; j < xs.length; j++) {
                if (i != j) {
                    term = term.multiply(x.subtract(xs[j])).mod(p).multiply(xs[i].subtract(xs[j]).modInverse(p)).mod(p);
                }
            }
            sum = sum.add(term).mod(p);
        }
        return sum;
    }
}
