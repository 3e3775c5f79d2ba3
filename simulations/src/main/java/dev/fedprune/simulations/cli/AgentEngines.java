package dev.fedprune.simulations.cli;

import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.agent.task.LocalPruneMethod;
import dev.fedprune.agent.task.MaskEngine;
import java.util.Map;

/** The local pruners virtual agents run: the same ones a real agent offers. */
final class AgentEngines {
    private AgentEngines() {
    }

    static Map<LocalPruneMethod, MaskEngine> all() {
        return AgentLoop.defaultEngines();
    }
}
