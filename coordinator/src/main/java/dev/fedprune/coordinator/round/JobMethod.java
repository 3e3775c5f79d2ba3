package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.proto.v1.Task;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The coordinator-side half of a federated method (the agent-side half computes contributions): what
 * each round asks of agents, how a contribution is folded, and what a closed round produces. The
 * round engine owns scheduling, persistence and transport; a method owns only the mathematics.
 */
public interface JobMethod {

    int totalRounds();

    /** The method-specific part of a round's tasks (kind and spec); the engine adds ids and deadline. */
    Task.Builder taskTemplate(int roundIndex);

    /** Starts a fresh accumulator for the round. */
    void openRound(int roundIndex);

    /**
     * Validates and folds one agent's contribution, completely or not at all. The contribution is on
     * disk; a method whose contributions are small reads it whole ({@link ContributionFile#message()}),
     * one whose contributions can be large (mask votes of a 7B model) reads it piecewise.
     *
     * @throws dev.fedprune.aggregation.InvalidContributionException naming the field at fault
     */
    void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException;

    /**
     * Aggregates the round and writes its artifacts; returns a summary for the round record. A method
     * that needs the agents' contributions again (agreement, trimmed votes) reads them from
     * {@code stored}, one at a time.
     */
    Map<String, Object> closeRound(int roundIndex, StoredContributions stored) throws IOException;

    /** The contributions folded in a round, kept in the coordinator's artifact store. */
    interface StoredContributions {
        /** The agent's stored contribution, verified against its SHA-256; the caller closes it. */
        ContributionFile open(String agentId) throws IOException;
    }

    /** Reloads what earlier, closed rounds produced, after a coordinator restart. */
    void restoreClosedRounds(int closedRounds) throws IOException;

    /**
     * The most bytes a contribution to a task of this round can weigh, from what the task asks for: an
     * upload that declares more is refused before a byte is stored. The default is the most that can be
     * parsed as one message, for methods that read contributions whole.
     */
    default long maxContributionBytes(int roundIndex) {
        return Integer.MAX_VALUE - 64;
    }

    /** Writes the final artifacts into {@code resultDir}; returns the method's part of the job report. */
    Map<String, Object> finish(Path resultDir) throws IOException;
}
