package dev.fedprune.aggregation.format;

/**
 * How a mask travels on the wire; the names match the proto enum {@code MaskEncoding}
 * ({@code MASK_ENCODING_BITPACKED}, {@code MASK_ENCODING_ENTROPY}).
 */
public enum MaskEncoding {
    /** {@link BitMask#toBytes()}: 1 bit per weight, little-endian words, bit i in byte i/8 at bit i%8. */
    BITPACKED,
    /** {@link EntropyMaskCodec}: Golomb-Rice coded gaps between the minority bits. */
    ENTROPY;

    private static final String PREFIX = "MASK_ENCODING_";

    /** The proto enum constant name, e.g. {@code MASK_ENCODING_ENTROPY}. */
    public String protoName() {
        return PREFIX + name();
    }

    public static MaskEncoding fromProtoName(String protoName) {
        for (MaskEncoding e : values()) {
            if (e.protoName().equals(protoName)) {
                return e;
            }
        }
        throw new FormatException("unknown mask encoding '" + protoName + "', expected MASK_ENCODING_BITPACKED or MASK_ENCODING_ENTROPY");
    }
}
