package dev.fedprune.security.secagg;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Shamir t-of-n secret sharing of 32-byte seeds over GF(p), p = 2^521 - 1 (a Mersenne prime, so every
 * 256-bit seed is one field element and no seed needs splitting). Shares are f(1..n) of a random
 * polynomial of degree t-1 with f(0) = seed; any t shares give f(0) by Lagrange interpolation, and any
 * t-1 shares are consistent with every possible seed, so they say nothing about it.
 */
public final class Shamir {
    public static final BigInteger PRIME = BigInteger.TWO.pow(521).subtract(BigInteger.ONE);
    private static final int SECRET_BYTES = 32;

    private Shamir() {
    }

    /** Shares of {@code secret} at x = 1..shares, any {@code threshold} of which reconstruct it. */
    public static List<SeedShare> split(byte[] secret, int threshold, int shares, SecureRandom random) {
        if (secret.length != SECRET_BYTES) {
            throw new IllegalArgumentException("a seed has " + SECRET_BYTES + " bytes, not " + secret.length);
        }
        if (threshold < 1 || threshold > shares) {
            throw new IllegalArgumentException("threshold must be 1.." + shares + ", not " + threshold);
        }
        BigInteger[] coefficients = new BigInteger[threshold];
        coefficients[0] = new BigInteger(1, secret);
        for (int i = 1; i < threshold; i++) {
            coefficients[i] = randomElement(random);
        }
        List<SeedShare> out = new ArrayList<>(shares);
        for (int x = 1; x <= shares; x++) {
            BigInteger bx = BigInteger.valueOf(x);
            BigInteger y = BigInteger.ZERO;
            for (int i = threshold - 1; i >= 0; i--) {
                y = y.multiply(bx).add(coefficients[i]).mod(PRIME);
            }
            out.add(new SeedShare(x, y));
        }
        return out;
    }

    /**
     * The seed from at least {@code threshold} shares with distinct points (the first {@code threshold} are used).
     *
     * @throws IllegalArgumentException with fewer than {@code threshold} distinct points
     * @throws CorruptSharesException if the shares interpolate to a value that is no 32-byte seed
     */
    public static byte[] combine(Collection<SeedShare> shares, int threshold) {
        Map<Integer, SeedShare> distinct = new LinkedHashMap<>();
        for (SeedShare s : shares) {
            SeedShare previous = distinct.putIfAbsent(s.x(), s);
            if (previous != null && !previous.y().equals(s.y())) {
                throw new CorruptSharesException("two different shares claim point x = " + s.x());
            }
        }
        if (distinct.size() < threshold) {
            throw new IllegalArgumentException("need " + threshold + " shares with distinct points, have " + distinct.size());
        }
        BigInteger secret = interpolateAtZero(new ArrayList<>(distinct.values()).subList(0, threshold));
        if (secret.bitLength() > 8 * SECRET_BYTES) {
            throw new CorruptSharesException("shares interpolate to a " + secret.bitLength() + "-bit value, not a 32-byte seed");
        }
        byte[] raw = secret.toByteArray();
        byte[] out = new byte[SECRET_BYTES];
        int copy = Math.min(raw.length, SECRET_BYTES);
        System.arraycopy(raw, raw.length - copy, out, SECRET_BYTES - copy, copy);
        return out;
    }

    /** f(0) of the unique polynomial of degree < shares.size() through the given points. */
    static BigInteger interpolateAtZero(List<SeedShare> shares) {
        BigInteger result = BigInteger.ZERO;
        for (int i = 0; i < shares.size(); i++) {
            BigInteger xi = BigInteger.valueOf(shares.get(i).x());
            BigInteger numerator = BigInteger.ONE;
            BigInteger denominator = BigInteger.ONE;
            for (int j = 0; j < shares.size(); j++) {
                if (j != i) {
                    BigInteger xj = BigInteger.valueOf(shares.get(j).x());
                    numerator = numerator.multiply(xj).mod(PRIME);
                    denominator = denominator.multiply(xj.subtract(xi)).mod(PRIME);
                }
            }
            BigInteger lagrange = numerator.multiply(denominator.modInverse(PRIME));
            result = result.add(shares.get(i).y().multiply(lagrange)).mod(PRIME);
        }
        return result;
    }

    private static BigInteger randomElement(SecureRandom random) {
        BigInteger r;
        do {
            r = new BigInteger(521, random);
        } while (r.compareTo(PRIME) >= 0);
        return r;
    }
}
