package dev.fedprune.coordinator.round;

import java.util.List;

/**
 * What a multi-phase round (secure aggregation: keys, shares, masked votes, unmasking) does when one of its
 * phases ends ({@link JobMethod#endPhase}): open the next phase for some agents, close the round, or fail
 * the attempt with a reason, as a missed quorum does.
 *
 * @param agents next phase: the agents that get its tasks
 * @param reason failed: why, for the job's events and failure reason
 */
public record PhaseEnd(Outcome outcome, List<String> agents, String reason) {
    public enum Outcome { NEXT_PHASE, CLOSE, FAIL }

    public PhaseEnd {
        agents = List.copyOf(agents);
    }

    public static PhaseEnd next(List<String> agents) {
        return new PhaseEnd(Outcome.NEXT_PHASE, agents, null);
    }

    public static PhaseEnd close() {
        return new PhaseEnd(Outcome.CLOSE, List.of(), null);
    }

    public static PhaseEnd fail(String reason) {
        return new PhaseEnd(Outcome.FAIL, List.of(), reason);
    }
}
