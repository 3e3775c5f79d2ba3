package dev.fedprune.agent.connection;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The agent's one retry policy: which failures are retried, and waits that grow, cap and spread. */
class RetryPolicyTest {
    @Test
    void aCoordinatorDyingMidCallIsRetriedLikeAnUnavailableOne() {
        assertTrue(CoordinatorClient.isTransient(Status.UNKNOWN.withDescription("channel closed").asRuntimeException()));
        assertTrue(CoordinatorClient.isTransient(Status.UNAVAILABLE.asRuntimeException()));
        assertFalse(CoordinatorClient.isTransient(Status.INVALID_ARGUMENT.asRuntimeException()));
        assertFalse(CoordinatorClient.isTransient(Status.UNAUTHENTICATED.asRuntimeException()));
        assertFalse(CoordinatorClient.isTransient(new IllegalStateException("not a status")));
    }

    @Test
    void waitsGrowExponentiallyWithinPlusMinusHalfAndAreSpreadAcrossAgents() {
        Set<Long> firstWaits = new HashSet<>();
        for (int agent = 0; agent < 200; agent++) {
            long first = CoordinatorClient.BACKOFF.apply(1);
            assertTrue(first >= 250 && first <= 750, "first wait " + first);
            firstWaits.add(first);
            long third = CoordinatorClient.BACKOFF.apply(3);
            assertTrue(third >= 1000 && third <= 3000, "third wait " + third);
            assertTrue(CoordinatorClient.BACKOFF.apply(12) <= 15_000, "capped at 15 s");
        }
        assertTrue(firstWaits.size() > 100, "200 agents drew only " + firstWaits.size() + " distinct first waits");
        // the calls' retry policy draws its waits the same way
        Set<Long> callWaits = new HashSet<>();
        var calls = CoordinatorClient.defaultRetry().getIntervalBiFunction();
        for (int i = 0; i < 50; i++) {
            long w = calls.apply(1, null);
            assertTrue(w >= 250 && w <= 750, "first wait " + w);
            callWaits.add(w);
        }
        assertTrue(callWaits.size() > 10, "waits of the calls are not spread: " + callWaits);
    }
}
