package dev.fedprune.aggregation.format;

/**
 * Encodes masks for the wire, choosing the entropy-coded form whenever it is smaller than the
 * bit-packed one (at 70% or 90% sparsity; at 50% a mask is incompressible and stays bit-packed).
 */
public final class MaskCodec {
    private MaskCodec() {
    }

    /** The smaller of the two encodings (bit-packed on a tie). */
    public static EncodedMask encode(BitMask mask) {
        byte[] entropy = EntropyMaskCodec.encodeIfSmaller(mask, (mask.length() + 7) >>> 3);
        return entropy != null ? new EncodedMask(MaskEncoding.ENTROPY, mask.length(), entropy) : encode(mask, MaskEncoding.BITPACKED);
    }

    public static EncodedMask encode(BitMask mask, MaskEncoding encoding) {
        byte[] data = switch (encoding) {
            case BITPACKED -> mask.toBytes();
            case ENTROPY -> EntropyMaskCodec.encode(mask);
        };
        return new EncodedMask(encoding, mask.length(), data);
    }

    /**
     * Decodes a mask of {@code length} bits.
     *
     * @throws FormatException for truncated or inconsistent data, naming what is wrong
     */
    public static BitMask decode(MaskEncoding encoding, long length, byte[] data) {
        return switch (encoding) {
            case BITPACKED -> BitMask.fromBytes(length, data);
            case ENTROPY -> EntropyMaskCodec.decode(length, data);
        };
    }

    public static BitMask decode(EncodedMask encoded) {
        return decode(encoded.encoding(), encoded.length(), encoded.data());
    }

    /** Shannon bound of a mask with this many set bits, in bytes: {@code n * H(p) / 8}. */
    public static double entropyBoundBytes(long length, long setBits) {
        if (length == 0 || setBits == 0 || setBits == length) {
            return 0;
        }
        double p = (double) setBits / length;
        double h = -(p * Math.log(p) + (1 - p) * Math.log(1 - p)) / Math.log(2);
        return length * h / 8;
    }
}
