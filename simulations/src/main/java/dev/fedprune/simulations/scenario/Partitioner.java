package dev.fedprune.simulations.scenario;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Splits a token-id JSONL file into one file per virtual agent, deterministically from a seed. */
public final class Partitioner {
    private static final Pattern CATEGORY = Pattern.compile("\"category\"\\s*:\\s*\"([^\"]*)\"");

    private Partitioner() {
    }

    /**
     * IID: lines shuffled with the seed and dealt round-robin. CATEGORY: whole categories (the
     * {@code category} field) dealt round-robin after a seeded shuffle of the category names, a
     * natural non-IID split.
     */
    public static List<Path> split(Path data, int agents, Scenario.Partition partition, long seed, Path outDir) throws IOException {
        List<String> lines = Files.readAllLines(data).stream().filter(l -> !l.isBlank()).toList();
        if (lines.size() < agents) {
            throw new IllegalArgumentException(data + ": " + lines.size() + " samples cannot be split between " + agents + " agents");
        }
        List<List<String>> parts = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            parts.add(new ArrayList<>());
        }
        Random random = new Random(seed);
        if (partition == Scenario.Partition.IID) {
            List<String> shuffled = new ArrayList<>(lines);
            Collections.shuffle(shuffled, random);
            for (int i = 0; i < shuffled.size(); i++) {
                parts.get(i % agents).add(shuffled.get(i));
            }
        } else {
            Map<String, List<String>> byCategory = new TreeMap<>();
            for (String line : lines) {
                Matcher m = CATEGORY.matcher(line);
                byCategory.computeIfAbsent(m.find() ? m.group(1) : "", k -> new ArrayList<>()).add(line);
            }
            if (byCategory.size() < agents) {
                throw new IllegalArgumentException(data + ": " + byCategory.size() + " categories cannot be split between " + agents + " agents");
            }
            List<String> categories = new ArrayList<>(byCategory.keySet());
            Collections.shuffle(categories, random);
            for (int i = 0; i < categories.size(); i++) {
                parts.get(i % agents).addAll(byCategory.get(categories.get(i)));
            }
        }
        Files.createDirectories(outDir);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            Path f = outDir.resolve("agent-" + i + ".jsonl");
            Files.write(f, parts.get(i));
            files.add(f);
        }
        return files;
    }
}
