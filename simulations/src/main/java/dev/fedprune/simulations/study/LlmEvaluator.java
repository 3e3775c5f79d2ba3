package dev.fedprune.simulations.study;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.eval.Perplexity;
import dev.fedprune.agent.llm.LlamaConfig;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.task.ProgressListener;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Perplexity on the agents' own model runtime (DJL, CPU), with the output contract's convention:
 * each line one sample cut to the model's context, exp(total NLL / total predicted tokens). Per
 * category from the {@code category} field; the overall value pools the NLL of every category.
 */
public final class LlmEvaluator implements ModelEvaluator {

    @Override
    public Evaluation evaluate(Path modelDir, Path data) throws IOException {
        try (LlamaModel model = LlamaModel.open(modelDir)) {
            LlamaConfig config = model.config();
            List<TokenSequence> samples = TokenDatasets.load(data, config.vocabSize(), config.maxPositions(), modelDir);
            Map<String, List<TokenSequence>> byCategory = samples.stream().collect(Collectors.groupingBy(
                    s -> s.category() == null ? "" : s.category(), TreeMap::new, Collectors.toList()));
            double nll = 0;
            long tokens = 0;
            Map<String, Double> perCategory = new LinkedHashMap<>();
            for (Map.Entry<String, List<TokenSequence>> e : byCategory.entrySet()) {
                Perplexity.Result r = Perplexity.evaluate(model, e.getValue(), Device.cpu(), ProgressListener.NONE);
                perCategory.put(e.getKey(), r.perplexity());
                nll += r.totalNll();
                tokens += r.predictedTokens();
            }
            return new Evaluation(Math.exp(nll / tokens), perCategory, tokens);
        }
    }
}
