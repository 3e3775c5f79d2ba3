package dev.fedprune.coordinator.round;

import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.proto.v1.Task;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The coordinator-side half of a federated method (the agent-side half computes contributions): what
 * each round asks of agents, how a contribution is folded, and what a closed round produces. The
 * round engine owns scheduling, persistence and transport; a method owns only the mathematics.
 * A {@link dev.fedprune.coordinator.method.MethodProvider} creates it for a job.
 */
public interface JobMethod {

    /** The model the job starts from, as the engine reports it (tensors, prunable weights). */
    ModelManifest manifest();

    /** The model as agents receive it with every task: tensors and the files they download. */
    dev.fedprune.proto.v1.ModelManifest wireManifest();

    int totalRounds();

    /** The method-specific part of a round's tasks (kind and spec); the engine adds ids and deadline. */
    Task.Builder taskTemplate(int roundIndex);

    /**
     * The task of one agent in a round, built when the engine hands it the task: a method that gives
     * agents different work (layers sized to their memory) overrides it. The default is the round's task.
     */
    default Task.Builder taskTemplate(int roundIndex, AgentView agent) {
        return taskTemplate(roundIndex);
    }

    /**
     * Starts a fresh accumulator for the round. Also called on its own to fold an open round again (after a
     * restart, or a fold whose commit failed): whatever {@link #openRound(int, List)} planned must survive it.
     */
    void openRound(int roundIndex);

    /**
     * Opens the round for the agents the engine selected, before any task exists: a method that plans work
     * over the round's agents does it here. The default opens the round as {@link #openRound(int)} does.
     *
     * @throws RoundRefusedException when these agents cannot do the round, saying why; the job fails with it
     */
    default void openRound(int roundIndex, List<AgentView> agents) {
        openRound(roundIndex);
    }

    /**
     * An agent failed its task and {@code spare} is online and free: may the spare take the work over? A
     * method that planned per-agent work moves the failed agent's part to the spare and says yes, or says no
     * (changing nothing) when the spare cannot do it; the engine then asks the next spare. Default: yes.
     */
    default boolean handOver(int roundIndex, AgentView failed, AgentView spare) {
        return true;
    }

    /**
     * Validates and folds one agent's contribution, completely or not at all. The contribution is on
     * disk; a method whose contributions are small reads it whole ({@link ContributionFile#message()}),
     * one whose contributions can be large (mask votes of a 7B model) reads it piecewise.
     *
     * @throws dev.fedprune.aggregation.InvalidContributionException naming the field at fault
     */
    void fold(int roundIndex, String agentId, ContributionFile contribution) throws IOException;

    /**
     * Aggregates the round and writes its artifacts; returns its summary ({@link RoundSummary#of}) for the
     * round record. A method that needs the agents' contributions again (agreement, trimmed votes) reads
     * them from {@code stored}, one at a time.
     */
    RoundSummary closeRound(int roundIndex, StoredContributions stored) throws IOException;

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

    /**
     * Whether the round runs in phases, each a task per agent with its own deadline (secure aggregation).
     * The engine then counts only the tasks of the current phase (the kind {@link #taskTemplate} gives now),
     * asks {@link #endPhase} instead of checking the quorum, and gives no failed task to a spare agent (the
     * phases' agents are fixed once keys are exchanged).
     */
    default boolean multiPhase(int roundIndex) {
        return false;
    }

    /**
     * Ends the current phase of a {@link #multiPhase} round, once every task of it has answered or its
     * deadline has passed; {@code folded} are the agents whose answer to it was folded, in task order.
     */
    default PhaseEnd endPhase(int roundIndex, java.util.List<String> folded) throws IOException {
        throw new UnsupportedOperationException("round " + roundIndex + " has a single phase");
    }

    /** Writes the final artifacts into {@code resultDir}; returns the method's part of the job report. */
    MethodReport finish(Path resultDir) throws IOException;
}
