package dev.fedprune.agent.image;

/** Images with one class label each (labels are unsigned bytes below {@code classCount}). */
public record LabeledImages(ImageSet images, byte[] labels, int classCount) {

    public LabeledImages {
        if (labels.length != images.count()) {
            throw new IllegalArgumentException(images.count() + " images but " + labels.length + " labels");
        }
    }

    public int size() {
        return labels.length;
    }

    public int label(int index) {
        return labels[index] & 0xff;
    }

    /** The labels as ints, for partitioners. */
    public int[] labelArray() {
        int[] out = new int[labels.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = labels[i] & 0xff;
        }
        return out;
    }

    /** A training batch: pixels scaled to [0, 1], {@code count × rows × columns}, and the labels. */
    public record Batch(float[] pixels, int[] labels) {
        public int size() {
            return labels.length;
        }
    }

    /** The samples {@code indices[from .. to)} as one batch. */
    public Batch batch(int[] indices, int from, int to) {
        int n = to - from;
        int per = images.pixelsPerImage();
        float[] pixels = new float[n * per];
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            images.copyScaled(indices[from + i], pixels, i * per);
            out[i] = label(indices[from + i]);
        }
        return new Batch(pixels, out);
    }
}
