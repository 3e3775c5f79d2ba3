package dev.fedprune.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** What an operator sees from `run` and `enroll` when agent.yaml, a flag or a secret is wrong: exit code 2 and one line naming it. */
class ConfigFileCommandTest {
    @TempDir
    Path dir;

    record Cli(int exit, String err) {
        static Cli run(String... args) {
            PrintStream original = System.err;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                int exit = AgentCli.execute(args);
                return new Cli(exit, captured.toString(StandardCharsets.UTF_8));
            } finally {
                System.setErr(original);
            }
        }
    }

    @Test
    void runWithABadAgentYamlExitsWith2NamingTheFileTheKeyAndTheExpectedValue() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), """
                coordinator: coord.example.org:50051
                limits:
                  threads: four
                """);
        Cli run = Cli.run("run", "--config", bad.toString());
        assertEquals(2, run.exit());
        assertEquals(bad + ": limits.threads: expected an integer >= 1, got \"four\"" + System.lineSeparator(), run.err());

        Cli enroll = Cli.run("enroll", "--config", bad.toString());
        assertEquals(2, enroll.exit());
        assertEquals(bad + ": limits.threads: expected an integer >= 1, got \"four\"" + System.lineSeparator(), enroll.err());
    }

    @Test
    void exitWhenIdleIsAFlagBothWaysAndAbsentLeavesItToTheFile() {
        assertEquals(Boolean.TRUE, CommandLine.populateCommand(new RunCommand(), "--exit-when-idle").exitWhenIdle);
        assertEquals(Boolean.FALSE, CommandLine.populateCommand(new RunCommand(), "--no-exit-when-idle").exitWhenIdle);
        assertNull(CommandLine.populateCommand(new RunCommand()).exitWhenIdle);
    }

    @Test
    void runSaysWhichSettingNamesDataThatIsNotThere() throws Exception {
        Path missing = dir.resolve("calibration.jsonl");
        Path config = Files.writeString(dir.resolve("agent.yaml"), "data:\n  tokens: " + missing + "\n");
        Cli fromFile = Cli.run("run", "--config", config.toString());
        assertEquals(2, fromFile.exit());
        assertEquals(config + ": data.tokens: expected an existing file (token-id JSONL, one sample per line), got \"" + missing
                + "\" (no such file)" + System.lineSeparator(), fromFile.err());

        // Flags only, as before agent.yaml: the flag is named.
        Cli fromFlag = Cli.run("run", "--data", missing.toString(), "--workdir", dir.resolve("w").toString());
        assertEquals(2, fromFlag.exit());
        assertTrue(fromFlag.err().startsWith("--data: expected an existing file"), fromFlag.err());

        Cli noConfig = Cli.run("run", "--config", dir.resolve("absent.yaml").toString());
        assertEquals(2, noConfig.exit());
        assertEquals("--config: " + dir.resolve("absent.yaml") + ": no such file" + System.lineSeparator(), noConfig.err());
    }

    @Test
    void runWithoutAnEnrollmentSaysWhichWorkdirSettingToFix() throws Exception {
        Path data = Files.writeString(dir.resolve("calibration.jsonl"), "{\"ids\":[1,2]}\n");
        Path workdir = dir.resolve("not-enrolled");
        Path config = Files.writeString(dir.resolve("agent.yaml"), "workdir: " + workdir + "\ndata:\n  tokens: " + data + "\n");
        Cli run = Cli.run("run", "--config", config.toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().startsWith(config + ": workdir: " + workdir + " holds no enrollment; run `fedprune-agent enroll`"), run.err());
    }

    @Test
    void enrollWarnsThatATokenOnTheCommandLineShowsInPs() {
        Cli enroll = Cli.run("enroll", "--coordinator", "127.0.0.1:1", "--token", "fpe_visible", "--ca-fingerprint", "f",
                "--proxy", "socks5://p:1080", "--workdir", dir.resolve("w").toString());
        assertEquals(2, enroll.exit(), "stopped at the bad proxy, before any connection");
        assertTrue(enroll.err().startsWith("warning: --token puts the enrollment token in this process's arguments, which `ps` shows"), enroll.err());
        assertFalse(enroll.err().contains("fpe_visible"));
    }

    @Test
    void enrollNamesTheFileKeyOfAMalformedCaFingerprintBeforeAnyConnection() throws Exception {
        Path token = Files.writeString(dir.resolve("enrollment-token"), "fpe_x\n");
        Path config = Files.writeString(dir.resolve("agent.yaml"), """
                coordinator: 127.0.0.1:1
                workdir: %s
                enrollment:
                  tokenFile: %s
                  caFingerprint: "12:34"
                """.formatted(dir.resolve("w"), token));
        Cli enroll = Cli.run("enroll", "--config", config.toString());
        assertEquals(1, enroll.exit(), "as for --ca-fingerprint");
        assertEquals("enrollment failed: " + config + ": enrollment.caFingerprint: not a SHA-256 fingerprint (64 hex digits, colons allowed):"
                + " '12:34'" + System.lineSeparator(), enroll.err());
    }

    @Test
    void enrollWithoutATokenSaysWhereOneCanComeFrom() {
        Cli enroll = Cli.run("enroll", "--coordinator", "127.0.0.1:1", "--ca-fingerprint", "f", "--workdir", dir.resolve("w").toString());
        assertEquals(2, enroll.exit());
        assertEquals("enrollment token: required: give --token-file FILE, FEDPRUNE_ENROLLMENT_TOKEN, FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE,"
                + " or enrollment.tokenFile in agent.yaml" + System.lineSeparator(), enroll.err());
        Cli noCoordinator = Cli.run("enroll", "--ca-fingerprint", "f");
        assertEquals(2, noCoordinator.exit());
        assertEquals("coordinator: required: give --coordinator HOST:PORT, FEDPRUNE_AGENT_COORDINATOR, or coordinator: in agent.yaml"
                + System.lineSeparator(), noCoordinator.err());
    }
}
