package dev.fedprune.coordinator.job;

/**
 * A job as an operator submits it (YAML or JSON), after validation: the fields every federated method
 * shares, and the method's own part ({@link MethodSpec}, picked by the spec's {@code method:} field).
 *
 * @param agentsPerRound       agents selected per round
 * @param quorum               contributions needed to aggregate once the deadline has passed
 * @param waitForAgentsSeconds how long to wait for enough online agents before failing (0 = forever)
 * @param roundAttempts        how many times a round is opened, each time with a fresh seeded selection of agents,
 *                             before a missed quorum fails the job (1 = the first miss fails it)
 * @param overSelectedAgents   agents selected beyond {@code agentsPerRound} when that many are online; the round
 *                             closes as soon as {@code agentsPerRound} contributions are folded (0 = none)
 * @param method               the method's part of the spec
 */
public record JobSpec(String name, int agentsPerRound, int quorum, int deadlineSeconds, int waitForAgentsSeconds, long seed,
                      int roundAttempts, int overSelectedAgents, MethodSpec method) {

    /** The most attempts a job may give one round. */
    public static final int MAX_ROUND_ATTEMPTS = 10;

    /** The method's part of the spec as its record type; a job of another method is refused. */
    public <S extends MethodSpec> S method(Class<S> type) {
        if (!type.isInstance(method)) {
            throw new IllegalArgumentException("job " + name + " is a " + method.methodName() + " job, not " + type.getSimpleName());
        }
        return type.cast(method);
    }

    /** The method's name in the spec's {@code method:} field. */
    public String methodName() {
        return method.methodName();
    }
}
