package dev.fedprune.agent.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * Loads calibration and evaluation data. A {@code .jsonl} file has one sample per line, either
 * {@code {"ids": [...], "category": "..."}} or {@code {"text": "..."}} (tokenized with the model's
 * {@code tokenizer.json}); each line is cut to the sequence length, never merged with another. Any
 * other file is plain text: tokenized as a whole and cut into consecutive windows of the sequence
 * length, as the Wanda reference does for WikiText.
 */
public final class TokenDatasets {
    public static final String TOKENIZER = "tokenizer.json";
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private TokenDatasets() {
    }

    /**
     * @param vocabSize     ids must lie in {@code [0, vocabSize)}
     * @param sequenceLength samples are cut to this many ids
     * @param modelDir      where {@code tokenizer.json} is looked up for text data (may be null for ids)
     */
    public static List<TokenSequence> load(Path file, int vocabSize, int sequenceLength, Path modelDir) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new InvalidDataException(file + ": no such file");
        }
        if (sequenceLength < 1) {
            throw new IllegalArgumentException("sequence length must be positive, got " + sequenceLength);
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        List<TokenSequence> samples = name.endsWith(".jsonl") || name.endsWith(".json")
                ? loadJsonLines(file, vocabSize, sequenceLength, modelDir)
                : loadText(file, vocabSize, sequenceLength, modelDir);
        if (samples.isEmpty()) {
            throw new InvalidDataException(file + ": contains no samples");
        }
        return samples;
    }

    private static List<TokenSequence> loadJsonLines(Path file, int vocab, int seqLen, Path modelDir) throws IOException {
        List<TokenSequence> out = new ArrayList<>();
        HuggingFaceTokenizer tokenizer = null;
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + lineNo;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JacksonException e) {
                    throw new InvalidDataException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
                }
                if (node == null || !node.isObject()) {
                    throw new InvalidDataException(where + ": each line must be a JSON object with an ids array or a text string");
                }
                String category = node.has("category") && !node.get("category").isNull() ? node.get("category").asString() : null;
                int[] ids;
                if (node.has("ids")) {
                    JsonNode arr = node.get("ids");
                    if (!arr.isArray()) {
                        throw new InvalidDataException(where + ": field ids must be an array of token ids");
                    }
                    ids = new int[Math.min(arr.size(), seqLen)];
                    for (int i = 0; i < arr.size(); i++) {
                        JsonNode v = arr.get(i);
                        if (!v.isIntegralNumber() || v.asLong() < 0 || v.asLong() >= vocab) {
                            throw new InvalidDataException(where + ": ids[" + i + "] = " + v + " is not a token id in [0, " + vocab + ") (vocab_size)");
                        }
                        if (i < ids.length) {
                            ids[i] = v.asInt();
                        }
                    }
                } else if (node.has("text") && node.get("text").isString()) {
                    if (tokenizer == null) {
                        tokenizer = tokenizer(file, modelDir);
                    }
                    ids = encode(tokenizer, node.get("text").asString(), file, vocab);
                    ids = Arrays.copyOf(ids, Math.min(ids.length, seqLen));
                } else {
                    throw new InvalidDataException(where + ": missing field ids (or text)");
                }
                if (ids.length == 0) {
                    throw new InvalidDataException(where + ": field ids is empty");
                }
                out.add(new TokenSequence(ids, category));
            }
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
        return out;
    }

    private static List<TokenSequence> loadText(Path file, int vocab, int seqLen, Path modelDir) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (text.isBlank()) {
            throw new InvalidDataException(file + ": contains no samples (empty text)");
        }
        int[] ids;
        try (HuggingFaceTokenizer tokenizer = tokenizer(file, modelDir)) {
            ids = encode(tokenizer, text, file, vocab);
        }
        List<TokenSequence> out = new ArrayList<>();
        int windows = ids.length / seqLen;
        for (int w = 0; w < windows; w++) {
            out.add(new TokenSequence(Arrays.copyOfRange(ids, w * seqLen, (w + 1) * seqLen), null));
        }
        if (windows == 0 && ids.length > 0) {
            out.add(new TokenSequence(ids, null));
        }
        return out;
    }

    private static HuggingFaceTokenizer tokenizer(Path dataFile, Path modelDir) throws IOException {
        Path json = modelDir == null ? null : modelDir.resolve(TOKENIZER);
        if (json == null || !Files.isRegularFile(json)) {
            throw new InvalidDataException(dataFile + ": text data needs the model's " + TOKENIZER + ", which is missing"
                    + (modelDir == null ? "" : " from " + modelDir));
        }
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        return HuggingFaceTokenizer.builder()
                .optTokenizerPath(json)
                .optAddSpecialTokens(true)
                .optTruncation(false)
                .optPadding(false)
                .optMaxLength(Integer.MAX_VALUE)
                .build();
    }

    private static int[] encode(HuggingFaceTokenizer tokenizer, String text, Path file, int vocab) {
        Encoding encoding = tokenizer.encode(text);
        long[] raw = encoding.getIds();
        int[] ids = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] < 0 || raw[i] >= vocab) {
                throw new InvalidDataException(file + ": the tokenizer produced id " + raw[i] + " outside [0, " + vocab + ") (vocab_size)");
            }
            ids[i] = (int) raw[i];
        }
        return ids;
    }

    /**
     * {@code count} samples drawn without replacement by a seeded partial Fisher-Yates shuffle, in drawn
     * order; all samples in file order when {@code count} is 0 or at least the number available.
     */
    public static List<TokenSequence> sample(List<TokenSequence> all, int count, long seed) {
        if (count < 0) {
            throw new IllegalArgumentException("sample count must be >= 0, got " + count);
        }
        if (count == 0 || count >= all.size()) {
            return List.copyOf(all);
        }
        int[] order = new int[all.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<TokenSequence> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(order.length - i);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
            out.add(all.get(order[i]));
        }
        return out;
    }
}
