package dev.fedprune.agent.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import dev.fedprune.agent.data.TokenDatasets;
import dev.fedprune.agent.data.TokenSequence;
import dev.fedprune.agent.llm.LlamaModel;
import dev.fedprune.agent.task.ProgressListener;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FixturePerplexityTest {

    @Test
    void densePerplexityMatchesReferenceAndIsBitIdenticalAcrossRuns() throws Exception {
        Path dir = Fixtures.fortunesLm();
        try (LlamaModel model = LlamaModel.open(dir)) {
            List<TokenSequence> data = TokenDatasets.load(dir.resolve("evaluation.jsonl"), model.config().vocabSize(),
                    model.config().maxPositions(), dir);
            assertEquals(352, data.size());
            Perplexity.Result first = Perplexity.evaluate(model, data, Device.cpu(), ProgressListener.NONE);
            Perplexity.Result second = Perplexity.evaluate(model, data, Device.cpu(), 1 << 20, ProgressListener.NONE);
            System.out.println("fixture dense perplexity " + first);
            assertEquals(32087, first.predictedTokens());
            assertEquals(4.7949, first.perplexity(), 4.7949 * 0.001);
            assertEquals(Double.doubleToRawLongBits(first.perplexity()), Double.doubleToRawLongBits(second.perplexity()),
                    "two runs (one chunked) must agree bit for bit");
        }
    }
}
