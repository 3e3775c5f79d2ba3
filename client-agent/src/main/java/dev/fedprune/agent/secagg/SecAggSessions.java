package dev.fedprune.agent.secagg;

import dev.fedprune.proto.v1.SecAggTaskSpec;
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.secagg.SecAggAgent;
import java.util.HashMap;
import java.util.Map;

/**
 * The secure-aggregation rounds this agent is in, kept in memory between their phase tasks: the round's
 * keys from phase 1, then its {@link SecAggAgent} and the setup it was made with. An agent that restarts
 * loses them, and drops out of its rounds, as the protocol allows.
 */
final class SecAggSessions implements AutoCloseable {
    private final Map<String, Session> rounds = new HashMap<>();

    static final class Session {
        private final SecAggAgent.RoundKeys keys;
        private SecAggAgent agent;
        private SecAggTaskSpec setup;

        private Session(SecAggAgent.RoundKeys keys) {
            this.keys = keys;
        }

        SecAggAgent.RoundKeys keys() {
            return keys;
        }

        void shared(SecAggAgent agent, SecAggTaskSpec spec) {
            this.agent = agent;
            this.setup = spec.toBuilder().clearKeys().build();
        }

        SecAggAgent agent() {
            if (agent == null) {
                throw new IllegalStateException("this agent has not shared its secrets in this round");
            }
            return agent;
        }

        /** A later phase must keep the setup the shares were made for (roster, graph, threshold, vector shape). */
        void checkSetup(SecAggTaskSpec spec) {
            SecAggTaskSpec now = spec.toBuilder().clearKeys().clearEnvelopes().clearSurvivors().clearDropped().build();
            if (setup == null || !now.equals(setup)) {
                throw new InvalidSecurityInputException("secure-aggregation task", "changes the round's roster, graph, threshold or vector shape");
            }
        }
    }

    /** Phase 1: a round starts (again, after a retried attempt) with fresh keys. */
    synchronized void start(String round, SecAggAgent.RoundKeys keys) {
        rounds.put(round, new Session(keys));
    }

    synchronized Session session(String round) {
        Session s = rounds.get(round);
        if (s == null) {
            throw new IllegalStateException("no secure-aggregation keys for round " + round + " on this agent (restarted since phase 1?)");
        }
        return s;
    }

    synchronized void end(String round) {
        rounds.remove(round);
    }

    @Override
    public synchronized void close() {
        rounds.clear();
    }
}
