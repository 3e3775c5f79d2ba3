package dev.fedprune.coordinator.method;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.format.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The job's result mask: a safetensors file of U8 tensors, one per pruned tensor, holding the
 * bit-packed prune mask (bit i of the row-major index is bit i%8 of byte i/8; 1 = pruned). The
 * metadata records each tensor's number of weights and the bit order. Masks are written one at a
 * time, so the file of a whole model is never held in memory.
 */
public final class GlobalMaskFile {
    private GlobalMaskFile() {
    }

    /** Supplies the masks in declaration order, one call per tensor. */
    @FunctionalInterface
    public interface MaskSupplier {
        BitMask mask(String tensor) throws IOException;
    }

    public static void write(Path file, Map<String, BitMask> masks) throws IOException {
        Map<String, Long> lengths = new LinkedHashMap<>();
        masks.forEach((name, mask) -> lengths.put(name, mask.length()));
        write(file, lengths, masks::get);
    }

    /** @param lengths tensor name to number of weights, in file order */
    public static void write(Path file, Map<String, Long> lengths, MaskSupplier masks) throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "fedprune-prune-mask");
        metadata.put("bit_order", "bit i of the row-major weight index is bit (i % 8) of byte (i / 8); 1 = pruned");
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        lengths.forEach((name, weights) -> {
            entries.add(new SafetensorsWriter.Entry(name, DType.U8, new long[] {(weights + 7) / 8}));
            metadata.put("weights." + name, Long.toString(weights));
        });
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, entries, metadata)) {
            for (String name : lengths.keySet()) {
                BitMask mask = masks.mask(name);
                if (mask.length() != lengths.get(name)) {
                    throw new IllegalStateException("mask of '" + name + "' has " + mask.length() + " weights, expected " + lengths.get(name));
                }
                writer.write(name, ByteBuffer.wrap(mask.toBytes()));
            }
        }
    }
}
