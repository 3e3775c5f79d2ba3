package dev.fedprune.agent.iterative;

import dev.fedprune.agent.llm.DecoderRuntime;
import dev.fedprune.agent.llm.HiddenStates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iterative round's view of its job's kept states: a directory with at most one file,
 * {@code layer-<b>.states}, the input of layer b under the global masks of layers 0..b-1. A round resumes
 * from the highest kept layer not after its own (an agent that sat out rounds still skips the layers it
 * has) and then keeps its own layer's input for the next round. A file that fails any check is deleted and
 * the round starts from the embeddings; a file that cannot be written is logged and the round goes on.
 */
public final class LayerInputCache implements KeptStates {
    private static final Logger LOG = LoggerFactory.getLogger(LayerInputCache.class);
    private static final Pattern FILE_NAME = Pattern.compile("layer-(\\d{1,6})\\.states");

    private final Path directory;
    private final LayerInputKey key;
    private final String[] priorMaskDigests;
    private final int modelLayers;

    /**
     * @param key              the key of {@code key.layer()}, the round's own layer
     * @param priorMaskDigests element l: digest of the global masks of layers 0..l-1, for l = 0..key.layer()
     * @param modelLayers      the model's decoder layer count: the last layer's input is never needed again
     */
    public LayerInputCache(Path directory, LayerInputKey key, String[] priorMaskDigests, int modelLayers) {
        if (priorMaskDigests.length != key.layer() + 1 || !priorMaskDigests[key.layer()].equals(key.priorMasksSha256())) {
            throw new IllegalArgumentException("prior mask digests must cover layers 0.." + key.layer() + " and end with the key's");
        }
        this.directory = directory;
        this.key = key;
        this.priorMaskDigests = priorMaskDigests.clone();
        this.modelLayers = modelLayers;
    }

    @Override
    public Resumed resume(DecoderRuntime runtime, int layer, int[] tokensPerSequence) {
        OptionalInt kept = keptLayers().filter(l -> l >= 1 && l <= Math.min(layer, key.layer())).max();
        if (kept.isEmpty()) {
            return null;
        }
        int from = kept.getAsInt();
        Path file = file(from);
        long start = System.nanoTime();
        try {
            HiddenStates states = LayerInputFile.read(file, key.forLayer(from, priorMaskDigests[from]), runtime, tokensPerSequence);
            LOG.info("resuming at layer {} from kept calibration states ({} bytes read and checked in {} ms)", from, Files.size(file),
                    (System.nanoTime() - start) / 1_000_000);
            return new Resumed(from, states);
        } catch (IOException | RuntimeException e) {
            LOG.warn("kept calibration states {} not used, recomputing from the embeddings: {}", file, e.getMessage());
            delete(file);
            return null;
        }
    }

    @Override
    public void keep(int layer, HiddenStates states) {
        if (layer != key.layer()) {
            throw new IllegalArgumentException("this round keeps the input of layer " + key.layer() + ", not of layer " + layer);
        }
        if (layer == 0 || layer >= modelLayers - 1) {
            // Layer 0's input is the embeddings, cheaper to look up than to read; after the last layer's round
            // the job needs nothing more, so what it kept goes.
            deleteAllBut(-1);
            return;
        }
        Path target = file(layer);
        Path partial = directory.resolve(target.getFileName() + ".partial");
        long start = System.nanoTime();
        try {
            Files.createDirectories(directory);
            Files.deleteIfExists(partial);
            LayerInputFile.write(partial, key, states);
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            LOG.info("kept the calibration states entering layer {} ({} bytes written in {} ms)", layer, Files.size(target),
                    (System.nanoTime() - start) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot keep the calibration states entering layer {} in {} (the next round recomputes them): {}", layer, directory, e.getMessage());
            delete(partial);
            delete(target);
        }
        deleteAllBut(layer);
    }

    private Path file(int layer) {
        return directory.resolve("layer-" + layer + ".states");
    }

    private IntStream keptLayers() {
        if (!Files.isDirectory(directory)) {
            return IntStream.empty();
        }
        try (Stream<Path> files = Files.list(directory)) {
            List<Integer> layers = files.map(f -> FILE_NAME.matcher(f.getFileName().toString())).filter(Matcher::matches)
                    .map(m -> Integer.parseInt(m.group(1))).toList();
            return layers.stream().mapToInt(Integer::intValue);
        } catch (IOException e) {
            LOG.warn("cannot list kept calibration states in {}: {}", directory, e.getMessage());
            return IntStream.empty();
        }
    }

    private void deleteAllBut(int layer) {
        keptLayers().filter(l -> l != layer).forEach(l -> delete(file(l)));
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", file, e.getMessage());
        }
    }
}
