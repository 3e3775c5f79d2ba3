package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.MaskSetIndex;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The global masks of a job's closed rounds, read from their artifacts one tensor at a time. Each
 * artifact is verified against its SHA-256 when opened.
 */
final class RoundMasks implements AutoCloseable {
    private record Located(FileChannel channel, MaskSetIndex index, MaskSetIndex.Entry entry) {
    }

    private final List<FileChannel> channels = new ArrayList<>();
    private final Map<String, Located> tensors = new HashMap<>();

    private RoundMasks() {
    }

    /** @param weights every tensor the rounds decided, with its number of weights */
    static RoundMasks open(ArtifactStore artifacts, List<String> artifactIds, Map<String, Long> weights) throws IOException {
        RoundMasks masks = new RoundMasks();
        try {
            for (String id : artifactIds) {
                FileChannel channel = FileChannel.open(artifacts.verifiedPath(id), StandardOpenOption.READ);
                masks.channels.add(channel);
                MaskSetIndex index = MaskSetIndex.scan(channel, "round mask " + id);
                Map<String, Long> expected = new LinkedHashMap<>();
                index.entries().forEach(e -> expected.put(e.tensorName(), weights.getOrDefault(e.tensorName(), -1L)));
                for (MaskSetIndex.Entry e : index.check(expected).values()) {
                    masks.tensors.put(e.tensorName(), new Located(channel, index, e));
                }
            }
        } catch (IOException | RuntimeException e) {
            masks.close();
            throw e;
        }
        return masks;
    }

    BitMask mask(String tensor) throws IOException {
        Located l = tensors.get(tensor);
        if (l == null) {
            throw new IllegalStateException("no closed round decided a mask for '" + tensor + "'");
        }
        return l.index.read(l.channel, l.entry);
    }

    @Override
    public void close() throws IOException {
        for (FileChannel c : channels) {
            c.close();
        }
    }
}
