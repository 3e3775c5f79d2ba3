package dev.fedprune.agent.image;

/** Grey images of one size, stored as in the IDX file: {@code count × rows × columns} unsigned bytes. */
public record ImageSet(int count, int rows, int columns, byte[] pixels) {

    public ImageSet {
        if ((long) count * rows * columns != pixels.length) {
            throw new IllegalArgumentException(count + " images of " + rows + "x" + columns + " need " + (long) count * rows * columns
                    + " pixels, got " + pixels.length);
        }
    }

    public int pixelsPerImage() {
        return rows * columns;
    }

    /** Pixel value in [0, 255]. */
    public int pixel(int image, int row, int column) {
        return pixels[(image * rows + row) * columns + column] & 0xff;
    }

    /** Copies one image into {@code out} at {@code offset}, scaled to [0, 1]. */
    public void copyScaled(int image, float[] out, int offset) {
        int n = pixelsPerImage();
        int base = image * n;
        for (int i = 0; i < n; i++) {
            out[offset + i] = (pixels[base + i] & 0xff) / 255f;
        }
    }
}
