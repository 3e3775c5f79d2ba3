package dev.fedprune.simulations.scenario;

import dev.fedprune.aggregation.sparsetrain.DirichletSampler;
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
     * natural non-IID split; with more agents than categories, every agent holds part of one category
     * (see {@link #categoryShards}).
     */
    public static List<Path> split(Path data, int agents, Scenario.Partition partition, long seed, Path outDir) throws IOException {
        return split(data, agents, partition, 0, 1, seed, outDir);
    }

    /**
     * @param alpha      concentration of the DIRICHLET split (smaller = more skewed)
     * @param minSamples every agent gets at least this many samples (DIRICHLET redraws until it holds); 0 allows
     *                   agents without data, which only a data-free pruner (magnitude) can serve
     */
    public static List<Path> split(Path data, int agents, Scenario.Partition partition, double alpha, int minSamples, long seed,
                                   Path outDir) throws IOException {
        List<String> lines = Files.readAllLines(data).stream().filter(l -> !l.isBlank()).toList();
        if (minSamples < 0) {
            throw new IllegalArgumentException("minSamples must be >= 0, got " + minSamples);
        }
        if (lines.size() < (long) agents * minSamples) {
            throw new IllegalArgumentException(data + ": " + lines.size() + " samples cannot be split between " + agents
                    + " agents with at least " + minSamples + " each");
        }
        List<List<String>> parts = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            parts.add(new ArrayList<>());
        }
        Random random = new Random(seed);
        if (partition == Scenario.Partition.DIRICHLET) {
            dirichlet(byCategory(lines), agents, alpha, minSamples, random, parts);
        } else if (partition == Scenario.Partition.IID) {
            List<String> shuffled = new ArrayList<>(lines);
            Collections.shuffle(shuffled, random);
            for (int i = 0; i < shuffled.size(); i++) {
                parts.get(i % agents).add(shuffled.get(i));
            }
        } else {
            Map<String, List<String>> byCategory = byCategory(lines);
            List<String> categories = new ArrayList<>(byCategory.keySet());
            Collections.shuffle(categories, random);
            if (byCategory.size() >= agents) {
                for (int i = 0; i < categories.size(); i++) {
                    parts.get(i % agents).addAll(byCategory.get(categories.get(i)));
                }
            } else {
                List<List<String>> shards = categoryShards(byCategory, categories, agents, random);
                for (int i = 0; i < agents; i++) {
                    parts.get(i).addAll(shards.get(i));
                }
            }
        }
        for (int i = 0; i < agents; i++) {
            if (parts.get(i).size() < minSamples) {
                throw new IllegalArgumentException(data + ": the " + partition.name().toLowerCase() + " split leaves agent " + i
                        + " with " + parts.get(i).size() + " samples, fewer than " + minSamples);
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

    /**
     * More agents than categories: the largest piece is halved until there is one piece per agent, so
     * every agent still sees a single topic and pieces stay as even as the category sizes allow.
     * Documents are shuffled with the seed inside each category before it is cut.
     */
    private static List<List<String>> categoryShards(Map<String, List<String>> byCategory, List<String> order, int agents, Random random) {
        List<List<String>> pieces = new ArrayList<>();
        for (String category : order) {
            List<String> docs = new ArrayList<>(byCategory.get(category));
            Collections.shuffle(docs, random);
            pieces.add(docs);
        }
        while (pieces.size() < agents) {
            int largest = 0;
            for (int i = 1; i < pieces.size(); i++) {
                if (pieces.get(i).size() > pieces.get(largest).size()) {
                    largest = i;
                }
            }
            List<String> piece = pieces.get(largest);
            if (piece.size() < 2) {
                throw new IllegalArgumentException(agents + " agents need at least " + agents + " samples, one each");
            }
            int half = (piece.size() + 1) / 2;
            pieces.set(largest, new ArrayList<>(piece.subList(0, half)));
            pieces.add(largest + 1, new ArrayList<>(piece.subList(half, piece.size())));
        }
        Collections.shuffle(pieces, random);
        return pieces;
    }

    private static Map<String, List<String>> byCategory(List<String> lines) {
        Map<String, List<String>> byCategory = new TreeMap<>();
        for (String line : lines) {
            Matcher m = CATEGORY.matcher(line);
            byCategory.computeIfAbsent(m.find() ? m.group(1) : "", k -> new ArrayList<>()).add(line);
        }
        return byCategory;
    }

    /**
     * The usual non-IID split of federated learning papers: for every category, agent shares are drawn
     * from Dirichlet(alpha) and the category's samples are dealt in those proportions. Redrawn (up to
     * 1000 times) until every agent holds at least {@code minSamples}.
     */
    private static void dirichlet(Map<String, List<String>> byCategory, int agents, double alpha, int minSamples, Random random,
                                  List<List<String>> parts) {
        if (!(alpha > 0)) {
            throw new IllegalArgumentException("partition alpha must be > 0, got " + alpha);
        }
        DirichletSampler dirichlet = new DirichletSampler(random.nextLong());
        for (int attempt = 0; attempt < 1000; attempt++) {
            parts.forEach(List::clear);
            for (List<String> samples : byCategory.values()) {
                List<String> shuffled = new ArrayList<>(samples);
                Collections.shuffle(shuffled, random);
                double[] share = dirichlet.next(alpha, agents);
                int start = 0;
                double cumulative = 0;
                for (int a = 0; a < agents; a++) {
                    cumulative += share[a];
                    int end = a == agents - 1 ? shuffled.size() : (int) Math.round(cumulative * shuffled.size());
                    parts.get(a).addAll(shuffled.subList(start, Math.max(start, end)));
                    start = Math.max(start, end);
                }
            }
            if (parts.stream().allMatch(p -> p.size() >= minSamples)) {
                return;
            }
        }
        throw new IllegalArgumentException("no Dirichlet(" + alpha + ") split gives each of " + agents + " agents at least "
                + minSamples + " samples after 1000 draws; raise alpha or lower the agent count");
    }
}
