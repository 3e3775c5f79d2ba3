package dev.fedprune.agent.iterative;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskRequest;
import dev.fedprune.agent.task.ProgressListener;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.slf4j.LoggerFactory;

/**
 * A small generated model, an agent's calibration file and the rounds of an iterative job on them, for the
 * tests of kept calibration states. The global masks of a round come from a second agent with another draw
 * of the calibration data, so they differ from the tested agent's own masks: states kept after the agent's
 * own pruning instead of the global masks would change the next rounds' masks.
 */
final class IterativeRounds {
    static final int LAYERS = 4;
    static final int SAMPLES = 6;

    final Path model;
    final Path calibration;
    final LlmMaskEngine engine = new LlmMaskEngine();
    private final Map<PruneMethod, List<Map<String, BitMask>>> globals = new HashMap<>();

    IterativeRounds(Path dir) throws IOException {
        model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(LAYERS, 64, 172, 4, 2, 259, 64, true, DType.F32), 11);
        calibration = dir.resolve("calibration.jsonl");
        Random random = new Random(5);
        List<String> lines = new ArrayList<>();
        for (int l = 0; l < 16; l++) {
            StringBuilder line = new StringBuilder("{\"ids\": [1");
            int n = 8 + random.nextInt(70); // some longer than max_position_embeddings (64), cut to it
            for (int i = 0; i < n; i++) {
                line.append(", ").append(3 + random.nextInt(256));
            }
            lines.add(line.append("]}").toString());
        }
        Files.write(calibration, lines);
    }

    /** The tested agent's masks for {@code layer}, given the global masks of the layers before it. */
    Map<String, BitMask> round(PruneMethod method, int layer, JobStates kept) throws IOException {
        return engine.computeMasks(request(method, layer, 1, kept), ProgressListener.NONE);
    }

    /** The tested agent's masks of every layer, round by round. */
    List<Map<String, BitMask>> allRounds(PruneMethod method, JobStates kept) throws IOException {
        List<Map<String, BitMask>> rounds = new ArrayList<>();
        for (int b = 0; b < LAYERS; b++) {
            rounds.add(round(method, b, kept));
        }
        return rounds;
    }

    private MaskRequest request(PruneMethod method, int layer, long seed, JobStates kept) throws IOException {
        return new MaskRequest(model, calibration, method, 0.5, true, 0, 0, SAMPLES, 0, seed, List.of(), layer,
                priorMasks(method, layer), kept);
    }

    /** The global masks of layers 0..layer-1: the other agent's, computed once per method without kept states. */
    Map<String, BitMask> priorMasks(PruneMethod method, int layer) throws IOException {
        List<Map<String, BitMask>> byLayer = globals.computeIfAbsent(method, m -> new ArrayList<>());
        Map<String, BitMask> prior = new HashMap<>();
        for (int b = 0; b < layer; b++) {
            if (byLayer.size() == b) {
                byLayer.add(engine.computeMasks(new MaskRequest(model, calibration, method, 0.5, true, 0, 0, SAMPLES, 0, 2, List.of(), b,
                        prior), ProgressListener.NONE));
            }
            prior.putAll(byLayer.get(b));
        }
        return prior;
    }

    /** Records what the kept-states cache logs, until closed. */
    static final class CacheLog implements AutoCloseable {
        private final Logger logger = (Logger) LoggerFactory.getLogger(LayerInputCache.class);
        private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

        CacheLog() {
            appender.start();
            logger.addAppender(appender);
        }

        List<String> messages() {
            return appender.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
        }

        void reset() {
            appender.list.clear();
        }

        @Override
        public void close() {
            logger.detachAppender(appender);
        }
    }
}
