package dev.fedprune.agent.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.eval.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenDatasetsTest {
    @TempDir
    Path dir;

    @Test
    void linesAreCutNeverMergedAndSamplingIsSeeded() throws Exception {
        Path file = dir.resolve("d.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            lines.add("{\"category\": \"c\", \"ids\": [1, " + (i + 3) + ", 4, 5, 6, 7]}");
        }
        Files.write(file, lines);
        List<TokenSequence> all = TokenDatasets.load(file, 10 + 20, 4, null);
        assertEquals(20, all.size());
        assertArrayEquals(new int[] {1, 3, 4, 5}, all.get(0).ids());
        assertEquals("c", all.get(0).category());
        List<TokenSequence> a = TokenDatasets.sample(all, 5, 7);
        List<TokenSequence> b = TokenDatasets.sample(all, 5, 7);
        List<TokenSequence> c = TokenDatasets.sample(all, 5, 8);
        assertEquals(a, b);
        assertNotEquals(a.stream().map(s -> s.ids()[1]).toList(), c.stream().map(s -> s.ids()[1]).toList());
        assertEquals(20, TokenDatasets.sample(all, 0, 1).size());
    }

    @Test
    void rejectsMissingIdsAndBadJson() throws Exception {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"ids\": [1, 2]}\n{\"tokens\": [1]}\n");
        InvalidDataException e = assertThrows(InvalidDataException.class, () -> TokenDatasets.load(file, 10, 8, null));
        assertTrue(e.getMessage().contains("bad.jsonl:2: missing field ids"), e.getMessage());
        Files.writeString(file, "{\"ids\": [1, 2.5]}\n");
        e = assertThrows(InvalidDataException.class, () -> TokenDatasets.load(file, 10, 8, null));
        assertTrue(e.getMessage().contains("ids[1] = 2.5"), e.getMessage());
    }

    @Test
    void textIsTokenizedWithTheModelTokenizerJson() throws Exception {
        Path model = Fixtures.fortunesLm();
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "Hi!");
        List<TokenSequence> windows = TokenDatasets.load(text, 259, 128, model);
        // byte-level vocabulary: <s> then bytes + 3
        assertArrayEquals(new int[] {1, 'H' + 3, 'i' + 3, '!' + 3}, windows.get(0).ids());
        Path jsonl = dir.resolve("t.jsonl");
        Files.writeString(jsonl, "{\"text\": \"Hi!\"}\n");
        assertArrayEquals(windows.get(0).ids(), TokenDatasets.load(jsonl, 259, 128, model).get(0).ids());
    }
}
