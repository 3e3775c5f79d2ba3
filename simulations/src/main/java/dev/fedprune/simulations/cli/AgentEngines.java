package dev.fedprune.simulations.cli;

import dev.fedprune.agent.prune.LlmMaskEngine;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.simulations.study.LlmEvaluator;
import dev.fedprune.simulations.study.ModelEvaluator;
import java.util.Map;

/** The local pruners virtual agents run: the same ones a real agent offers. */
final class AgentEngines {
    private AgentEngines() {
    }

    static Map<PruneMethod, MaskEngine> all() {
        return new LlmMaskEngine().byMethod();
    }

    /** Perplexity on the agent's model runtime. */
    static ModelEvaluator evaluator() {
        return new LlmEvaluator();
    }
}
