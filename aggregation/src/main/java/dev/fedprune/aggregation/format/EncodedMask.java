package dev.fedprune.aggregation.format;

/** A mask in its wire form: the encoding tag, the mask length in bits and the payload. */
public record EncodedMask(MaskEncoding encoding, long length, byte[] data) {

    public int sizeBytes() {
        return data.length;
    }

    public double bitsPerWeight() {
        return length == 0 ? 0 : data.length * 8.0 / length;
    }
}
