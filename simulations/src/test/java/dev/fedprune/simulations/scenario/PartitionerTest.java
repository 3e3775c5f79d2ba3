package dev.fedprune.simulations.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartitionerTest {
    private static final Pattern CATEGORY = Pattern.compile("\"category\": \"([^\"]*)\"");

    @TempDir
    Path dir;

    /** Categories of sizes 1, 2, 4 and 9 (16 documents). */
    private Path data() throws Exception {
        StringBuilder sb = new StringBuilder();
        int[] sizes = {1, 2, 4, 9};
        int id = 0;
        for (int c = 0; c < sizes.length; c++) {
            for (int i = 0; i < sizes[c]; i++) {
                sb.append("{\"category\": \"c").append(c).append("\", \"ids\": [1, ").append(id++).append("]}\n");
            }
        }
        return Files.writeString(dir.resolve("data.jsonl"), sb);
    }

    private static Set<String> categories(Path agentFile) throws Exception {
        Set<String> out = new HashSet<>();
        for (String line : Files.readAllLines(agentFile)) {
            Matcher m = CATEGORY.matcher(line);
            assertTrue(m.find(), line);
            out.add(m.group(1));
        }
        return out;
    }

    @Test
    void categorySplitWithMoreAgentsThanCategoriesGivesEveryAgentPartOfOneCategory() throws Exception {
        Path data = data();
        List<Path> files = Partitioner.split(data, 7, Scenario.Partition.CATEGORY, 0, 1, 5, dir.resolve("a"));
        List<String> all = new ArrayList<>();
        for (Path f : files) {
            List<String> lines = Files.readAllLines(f);
            assertTrue(lines.size() >= 1, f + " is empty");
            assertEquals(1, categories(f).size(), f + " mixes categories");
            all.addAll(lines);
        }
        assertEquals(Files.readAllLines(data).stream().sorted().toList(), all.stream().sorted().toList(), "every document dealt once");
        // The largest piece is halved first: 9 -> 5 + 4, then 5 -> 3 + 2, then the 4-document category -> 2 + 2.
        List<Integer> sizes = new ArrayList<>();
        for (Path f : files) {
            sizes.add(Files.readAllLines(f).size());
        }
        assertEquals(List.of(1, 2, 2, 2, 2, 3, 4), sizes.stream().sorted().toList());
        assertEquals(files.stream().map(f -> {
            try {
                return Files.readString(f);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList(), Partitioner.split(data, 7, Scenario.Partition.CATEGORY, 0, 1, 5, dir.resolve("b")).stream().map(f -> {
            try {
                return Files.readString(f);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList(), "deterministic under a seed");
    }

    @Test
    void categorySplitWithFewerAgentsThanCategoriesDealsWholeCategories() throws Exception {
        List<Path> files = Partitioner.split(data(), 2, Scenario.Partition.CATEGORY, 0, 1, 5, dir.resolve("a"));
        Set<String> seen = new HashSet<>();
        for (Path f : files) {
            for (String c : categories(f)) {
                assertTrue(seen.add(c), c + " is on two agents");
            }
        }
        assertEquals(4, seen.size());
    }
}
