package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.cli.AgentCli;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.security.pki.Fingerprints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's path: `fedprune-agent enroll` against a real coordinator, then a connection from the stored identity. */
class AgentEnrollCommandTest {
    @TempDir
    Path dir;

    @Test
    void enrollCommandStoresAKeyThatNeverLeftTheNodeAndTheRunIdentityWorks() throws Exception {
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            Path workdir = dir.resolve("agent");
            String token = fed.token();
            int exit = AgentCli.execute("enroll", "--coordinator", fed.target(), "--token", token,
                    "--ca-fingerprint", Fingerprints.display(fed.caFingerprint()), "--name", "ward-7", "--workdir", workdir.toString());
            assertEquals(0, exit);
            Set<PosixFilePermission> keyPermissions = Files.getPosixFilePermissions(workdir.resolve("agent-key.pem"));
            assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), keyPermissions, "the private key is owner-only");

            AgentIdentity identity = AgentIdentity.load(workdir);
            assertEquals(fed.caFingerprint(), Fingerprints.of(identity.caCertificate()));
            assertEquals("ward-7", fed.node.agents().get(identity.agentId()).name());
            assertEquals("test-site", fed.node.agents().get(identity.agentId()).site(), "the token's site wins");
            assertFalse(identity.renewalDue(java.time.Instant.now()));
            try (CoordinatorClient client = new CoordinatorClient(identity, CoordinatorClient.defaultRetry())) {
                assertEquals(0, client.pullTask().getActiveJobs());
            }

            // The same token a second time: refused, exit code 1, nothing written.
            Path second = dir.resolve("agent-2");
            assertEquals(1, AgentCli.execute("enroll", "--coordinator", fed.target(), "--token", token,
                    "--ca-fingerprint", fed.caFingerprint(), "--workdir", second.toString()));
            assertFalse(AgentIdentity.existsIn(second));
            // A malformed fingerprint is refused before any connection.
            assertEquals(1, AgentCli.execute("enroll", "--coordinator", fed.target(), "--token", fed.token(),
                    "--ca-fingerprint", "12:34", "--workdir", second.toString()));
            assertTrue(fed.node.audit().entries(10, null).stream().anyMatch(e -> e.detail() != null && e.detail().contains("already used")));
        }
    }
}
