package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.cli.AgentCli;
import dev.fedprune.agent.enrollment.AgentIdentity;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.security.pki.Fingerprints;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The site bundle's path: an agent configured by agent.yaml alone (the one-time token in a file it
 * names) enrolls with `enroll --config`, then works a job with `run --config` against a real
 * coordinator, and a flag overriding the file takes effect in the running agent.
 */
class AgentConfigFileTest {
    @TempDir
    Path dir;

    private static String maskJob(Path model) {
        return """
                model: %s
                localPruner: magnitude
                sparsity: 0.5
                agentsPerRound: 1
                quorum: 1
                deadlineSeconds: 120
                """.formatted(model);
    }

    @Test
    void anAgentConfiguredOnlyByAFileEnrollsAndCompletesAJob() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        Path data = Files.writeString(dir.resolve("calibration.jsonl"), "{\"ids\":[1,2,3]}\n{\"ids\":[4,5,6]}\n");
        // The machine's own core count: the limit is applied for real, without slowing the other tests in this JVM.
        int threads = Runtime.getRuntime().availableProcessors();
        try (Federation fed = new Federation(dir.resolve("coord"))) {
            Path tokenFile = Files.writeString(dir.resolve("enrollment-token"), fed.token() + "\n");
            Path workdir = dir.resolve("agent");
            Path config = Files.writeString(dir.resolve("agent.yaml"), """
                    coordinator: %s
                    workdir: %s
                    name: hospital-a
                    data:
                      tokens: %s
                    exitWhenIdle: true
                    limits:
                      threads: %d
                      memory: 64m
                    enrollment:
                      tokenFile: %s
                      caFingerprint: %s
                    """.formatted(fed.target(), workdir, data, threads, tokenFile, Fingerprints.display(fed.caFingerprint())));

            assertEquals(0, AgentCli.execute("enroll", "--config", config.toString()));
            AgentIdentity identity = AgentIdentity.load(workdir);
            AgentRecord agent = fed.node.agents().get(identity.agentId());
            assertEquals("hospital-a", agent.name());
            assertTrue(agent.resources().contains("\"cpuCores\":" + threads), agent.resources());
            assertTrue(agent.resources().contains("\"memoryBytes\":" + (64L << 20)), "the limit is what the agent offers: " + agent.resources());

            // The token was for enrollment only: run does not need its file.
            Files.delete(tokenFile);
            String jobId = fed.node.engine().submit(JobSpecParser.parse(maskJob(model)));
            assertEquals(0, AgentCli.execute("run", "--config", config.toString()), "exits when idle, as the file says");
            JobRecord done = fed.awaitFinal(jobId, 60_000);
            assertEquals("COMPLETED", done.state(), () -> done.failureReason() + " " + fed.node.store().events(jobId));
            assertEquals(1, fed.node.store().rounds(jobId).size());

            // A flag overrides the file: with --memory 1k the same agent refuses the next job's task before downloading
            // the model, and says why to the coordinator.
            String tooLarge = fed.node.engine().submit(JobSpecParser.parse(maskJob(model)));
            assertEquals(0, AgentCli.execute("run", "--config", config.toString(), "--memory", "1k"));
            JobRecord refused = fed.awaitFinal(tooLarge, 60_000);
            assertEquals("FAILED", refused.state(), () -> String.valueOf(fed.node.store().events(tooLarge)));
            String events = String.valueOf(fed.node.store().events(tooLarge));
            assertTrue(events.contains("TaskTooLargeException: task ") && events.contains("more than --memory allows (1 KiB)"), events);
        }
    }
}
