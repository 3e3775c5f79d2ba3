package dev.fedprune.agent.prune;

/**
 * Wanda's per-input-feature statistic ({@code scaler_row}, algorithms.md 2.2): a float32 running mean over
 * sequences of the per-sequence column sums of squares, so that after N sequences
 * {@code scaler_j = Σ x²_j / N}.
 */
public final class WandaStatistics {
    private final float[] scaler;
    private int sequences;

    public WandaStatistics(int columns) {
        scaler = new float[columns];
    }

    /** Adds one sequence given its column sums of squares {@code Σ_t x[t,j]²}. */
    public void addSequence(float[] columnSumsOfSquares) {
        if (columnSumsOfSquares.length != scaler.length) {
            throw new IllegalArgumentException(columnSumsOfSquares.length + " column sums for " + scaler.length + " columns");
        }
        float keep = (float) ((double) sequences / (sequences + 1));
        sequences++;
        for (int j = 0; j < scaler.length; j++) {
            scaler[j] = scaler[j] * keep + columnSumsOfSquares[j] / sequences;
        }
    }

    /** Adds one sequence of {@code tokens} rows of {@code scaler.length} values, row-major. */
    public void addSequence(float[] tokensByColumns, int tokens) {
        float[] sums = new float[scaler.length];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < sums.length; j++) {
                float x = tokensByColumns[t * sums.length + j];
                sums[j] += x * x;
            }
        }
        addSequence(sums);
    }

    public float[] scaler() {
        return scaler.clone();
    }

    public int sequences() {
        return sequences;
    }
}
