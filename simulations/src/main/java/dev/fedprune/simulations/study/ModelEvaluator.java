package dev.fedprune.simulations.study;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Measures a model's quality on evaluation data: perplexity overall and per category. */
public interface ModelEvaluator {

    /** Perplexity overall and per category ({@code category} field of the token-id file). */
    record Evaluation(double perplexity, Map<String, Double> perCategory, long predictedTokens) {
    }

    Evaluation evaluate(Path modelDir, Path data) throws IOException;
}
