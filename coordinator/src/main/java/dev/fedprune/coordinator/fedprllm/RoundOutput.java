package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.format.Tensors;
import dev.fedprune.aggregation.robust.LayeredVote;
import dev.fedprune.aggregation.vote.VoteAccumulator;
import dev.fedprune.coordinator.contribution.MaskSetWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a closing FedPrLLM round puts each decoder layer's selection as the vote hands it over: the
 * pruned tensors (the original's weights, pruned and optionally scaled, in the original's dtypes) into
 * the round's safetensors file, the global masks into its mask file, and each tensor's sparsity. A tensor
 * is read, pruned and encoded {@link #PRUNE_SLICE} weights at a time: a 7B model's MLP matrix (45M
 * weights) would otherwise sit in the heap three times over.
 */
final class RoundOutput implements LayeredVote.LayerSink, AutoCloseable {
    /** Weights pruned and written at a time (4 MiB of floats). */
    static final int PRUNE_SLICE = 1 << 20;

    private final Checkpoint original;
    private final SafetensorsWriter pruned;
    private final MaskSetWriter masks;
    private final boolean weightScaling;
    private final Map<String, Double> sparsity = new LinkedHashMap<>();

    private RoundOutput(Checkpoint original, SafetensorsWriter pruned, MaskSetWriter masks, boolean weightScaling) {
        this.original = original;
        this.pruned = pruned;
        this.masks = masks;
        this.weightScaling = weightScaling;
    }

    /**
     * @param tensors the round's tensors, in the order the vote selects them
     */
    static RoundOutput open(Path modelDir, List<String> tensors, Path prunedFile, Path maskFile, boolean weightScaling) throws IOException {
        Checkpoint original = Checkpoint.open(modelDir);
        SafetensorsWriter pruned = null;
        try {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (String name : tensors) {
                TensorInfo info = original.info(name);
                entries.add(new SafetensorsWriter.Entry(name, info.dtype(), info.shape()));
            }
            pruned = SafetensorsWriter.create(prunedFile, entries, Map.of());
            return new RoundOutput(original, pruned, MaskSetWriter.create(maskFile), weightScaling);
        } catch (IOException | RuntimeException e) {
            if (pruned != null) {
                pruned.close();
            }
            original.close();
            throw e;
        }
    }

    @Override
    public void accept(VoteAccumulator votes, Map<String, BitMask> selected) throws IOException {
        for (Map.Entry<String, BitMask> e : selected.entrySet()) {
            String name = e.getKey();
            BitMask mask = e.getValue();
            sparsity.put(name, (double) mask.cardinality() / mask.length());
            TensorInfo info = original.info(name);
            long n = info.elementCount();
            if (n == 0) {
                pruned.write(name, ByteBuffer.allocate(0));
            }
            for (long from = 0; from < n; from += PRUNE_SLICE) {
                int count = (int) Math.min(PRUNE_SLICE, n - from);
                float[] slice = votes.prune(name, from, original.readFloats(name, from, count), mask, weightScaling);
                pruned.writePart(name, ByteBuffer.wrap(Tensors.fromFloats(slice, info.dtype())));
            }
            masks.add(name, mask);
        }
    }

    /** Each selected tensor's fraction of pruned weights, in selection order. */
    Map<String, Double> sparsity() {
        return sparsity;
    }

    /** Completes the mask file and returns its SHA-256; the pruned file is complete when this is closed. */
    String finishMasks() throws IOException {
        return masks.finish();
    }

    @Override
    public void close() throws IOException {
        try (Checkpoint c = original; SafetensorsWriter p = pruned; MaskSetWriter m = masks) {
            // closed in reverse order: masks, pruned model, original
        }
    }
}
