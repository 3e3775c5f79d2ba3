package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.round.EngineListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The keystore across restarts: same CA, enrolled agents keep working, a wrong password stops the start. */
class CoordinatorRestartSecurityTest {
    @TempDir
    Path dir;

    CoordinatorNode.Config config(String keystorePassword) {
        return new CoordinatorNode.Config(dir.resolve("coord"), "127.0.0.1", 0, null, "sa", "", 30, 1, 50,
                new CoordinatorNode.Security(keystorePassword, List.of("localhost", "127.0.0.1"), Duration.ofHours(1)));
    }

    @Test
    void sameCaAfterRestartAndEnrolledAgentsReconnect() throws Exception {
        String fingerprint;
        AgentIdentity identity;
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            fingerprint = fed.caFingerprint();
            identity = fed.enrolledClient("alice").identity();
        }
        assertTrue(Files.isRegularFile(dir.resolve("coord/security/coordinator.p12")));
        byte[] keystore = Files.readAllBytes(dir.resolve("coord/security/coordinator.p12"));
        assertFalse(new String(keystore, java.nio.charset.StandardCharsets.ISO_8859_1).contains("test-keystore-password"));

        IOException wrong = assertThrows(IOException.class, () -> CoordinatorNode.start(config("not-the-password"), EngineListener.NONE));
        assertTrue(wrong.getMessage().contains("wrong password"), wrong.getMessage());

        try (CoordinatorNode node = CoordinatorNode.start(config("test-keystore-password"), EngineListener.NONE)) {
            assertEquals(fingerprint, node.pki().caFingerprint(), "sites pinned this fingerprint; a restart must not change it");
            AgentIdentity moved = new AgentIdentity("127.0.0.1:" + node.grpcPort(), identity.agentId(), identity.privateKey(), identity.certificate(),
                    identity.caCertificate(), identity.signingCertificate(), 1);
            try (CoordinatorClient client = new CoordinatorClient(moved, CoordinatorClient.defaultRetry())) {
                assertEquals(0, client.pullTask().getActiveJobs());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> CoordinatorNode.start(config("test-keystore-password").withSecurity(
                new CoordinatorNode.Security("test-keystore-password", List.of("localhost"), Duration.ofMinutes(1))), EngineListener.NONE));
    }
}
