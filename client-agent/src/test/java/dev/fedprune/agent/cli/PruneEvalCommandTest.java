package dev.fedprune.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.model.PrunableTensors;
import dev.fedprune.aggregation.model.SyntheticLlama;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PruneEvalCommandTest {
    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
        String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    private static synchronized Run cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = AgentCli.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private Path data(String name, int lines) throws Exception {
        Random random = new Random(name.hashCode());
        List<String> out = new ArrayList<>();
        for (int l = 0; l < lines; l++) {
            StringBuilder sb = new StringBuilder("{\"ids\": [1");
            for (int i = 0; i < 40; i++) {
                sb.append(", ").append(3 + random.nextInt(256));
            }
            out.add(sb.append("]}").toString());
        }
        Path file = dir.resolve(name);
        Files.write(file, out);
        return file;
    }

    @Test
    void pruneWritesAModelThatEvalAcceptsAndBothEndWithTheContractLine() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, SyntheticLlama.Shape.tiny(), 4);
        Path calib = data("calib.jsonl", 16);
        Path eval = data("eval.jsonl", 8);
        Path out = dir.resolve("pruned");
        for (String[] variant : new String[][] {{"wanda"}, {"sparsegpt", "--nm", "2:4"}, {"magnitude"}}) {
            List<String> args = new ArrayList<>(List.of("prune", "--model", model.toString(), "--calib", calib.toString(),
                    "--method", variant[0], "--sparsity", "0.5", "--out", out.toString()));
            for (int i = 1; i < variant.length; i++) {
                args.add(variant[i]);
            }
            Run prune = cli(args.toArray(String[]::new));
            assertEquals(0, prune.code, prune.err);
            assertTrue(prune.out.contains("layer 1: sparsity 0.500000"), prune.out);
            assertEquals("sparsity: 0.500000", prune.lastLine());
            Run evaluated = cli("eval", "--model", out.toString(), "--data", eval.toString());
            assertEquals(0, evaluated.code, evaluated.err);
            assertTrue(evaluated.lastLine().matches("perplexity: \\d+\\.\\d{4}"), evaluated.lastLine());
        }
        try (SafetensorsFile pruned = SafetensorsFile.open(out.resolve("model.safetensors"));
             SafetensorsFile masks = SafetensorsFile.open(out.resolve("masks.safetensors"))) {
            String q = PrunableTensors.tensorName(0, "self_attn.q_proj");
            float[] w = pruned.floats(q);
            BitMask m = BitMask.fromBytes(w.length, toArray(masks.bytes(q)));
            assertEquals(w.length / 2, m.cardinality());
            for (int i = 0; i < w.length; i++) {
                if (m.get(i)) {
                    assertEquals(0f, w[i]);
                }
            }
        }
    }

    private static byte[] toArray(java.nio.ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    @Test
    void badInputGivesAPreciseErrorAndExitCode2() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, SyntheticLlama.Shape.tiny(), 4);
        Path calib = data("calib.jsonl", 4);
        Run r = cli("prune", "--model", model.toString(), "--calib", calib.toString(), "--method", "wanda", "--sparsity", "1.2",
                "--out", dir.resolve("x").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("error: sparsity ratio 1.2 is outside [0, 1)"), r.err);
        r = cli("prune", "--model", model.toString(), "--calib", calib.toString(), "--method", "wanda", "--nm", "4:8",
                "--out", dir.resolve("x").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("does not divide d_in = 172"), r.err);
        r = cli("prune", "--model", model.toString(), "--calib", calib.toString(), "--method", "obs", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("--method 'obs'"), r.err);
        r = cli("eval", "--model", dir.resolve("nothing").toString(), "--data", calib.toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("missing config.json"), r.err);
    }
}
