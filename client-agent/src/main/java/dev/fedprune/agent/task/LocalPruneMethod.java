package dev.fedprune.agent.task;

/** The pruner an agent runs on its own data. */
public enum LocalPruneMethod {
    MAGNITUDE, WANDA, SPARSEGPT
}
