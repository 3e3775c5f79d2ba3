package dev.fedprune.agent.task;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.Checkpoint;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.model.PrunableTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Data-free magnitude pruning straight from the safetensors file or shards (algorithms.md 2.3): the k weights
 * with the smallest |W| per matrix (or per row), exactly k, ties to the lower flat index; N:M prunes
 * the N smallest of every M consecutive weights of a row. Needs no model runtime.
 */
public final class MagnitudeMaskEngine implements MaskEngine {

    @Override
    public Map<String, BitMask> computeMasks(MaskRequest request, ProgressListener progress) throws IOException {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        try (Checkpoint weights = Checkpoint.open(request.modelDir())) {
            List<String> names = new ArrayList<>(request.tensorNames());
            if (names.isEmpty()) {
                weights.infos().stream().map(TensorInfo::name).filter(PrunableTensors::isPrunable).forEach(names::add);
            }
            int done = 0;
            for (String name : names) {
                TensorInfo info = weights.info(name);
                if (info.rank() != 2) {
                    throw new IllegalArgumentException(weights.fileOf(name) + ": tensor '" + name + "' is not 2-D");
                }
                masks.put(name, mask(weights.readFloats(name), (int) info.dim(0), (int) info.dim(1), request));
                progress.progress("magnitude", ++done, names.size());
            }
        }
        return masks;
    }

    static BitMask mask(float[] w, int rows, int cols, MaskRequest request) {
        BitMask mask = new BitMask((long) rows * cols);
        if (request.nmM() > 0) {
            if (cols % request.nmM() != 0) {
                throw new IllegalArgumentException(request.nmN() + ":" + request.nmM() + " needs the input dimension " + cols + " to be a multiple of " + request.nmM());
            }
            for (int start = 0; start < w.length; start += request.nmM()) {
                pruneSmallest(w, start, request.nmM(), request.nmN(), mask);
            }
        } else if (request.perRow()) {
            int k = (int) (cols * request.sparsityRatio());
            for (int r = 0; r < rows; r++) {
                pruneSmallest(w, r * cols, cols, k, mask);
            }
        } else {
            pruneSmallest(w, 0, w.length, (int) ((double) w.length * request.sparsityRatio()), mask);
        }
        return mask;
    }

    /** Prunes the k smallest |w| in [start, start+count), ordered by (|w|, index). */
    private static void pruneSmallest(float[] w, int start, int count, int k, BitMask mask) {
        if (k <= 0) {
            return;
        }
        long[] keys = new long[count];
        for (int i = 0; i < count; i++) {
            // |w| as non-negative float bits sorts like the value; the low half keeps the index for stable ties.
            keys[i] = ((long) Float.floatToIntBits(Math.abs(w[start + i])) << 32) | i;
        }
        Arrays.sort(keys);
        for (int i = 0; i < k; i++) {
            mask.set(start + (keys[i] & 0xffffffffL));
        }
    }
}
