package dev.fedprune.coordinator.round;

/**
 * A method cannot run a round with the agents selected for it (FedSpaLLM: their memory cannot cover
 * every decoder layer). The engine opens no tasks and fails the job with this reason, which says what
 * is missing (which layers, which agents, what they reported).
 */
public final class RoundRefusedException extends RuntimeException {
    public RoundRefusedException(String reason) {
        super(reason);
    }
}
