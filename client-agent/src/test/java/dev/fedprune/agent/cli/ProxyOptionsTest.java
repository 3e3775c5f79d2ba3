package dev.fedprune.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.ProxySettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** How `enroll` and `run` combine the proxy flags with the environment: flags first, then (agent.yaml aside) https_proxy, HTTPS_PROXY, no_proxy, NO_PROXY. */
class ProxyOptionsTest {
    @TempDir
    Path dir;

    static ProxyOptions enrollFlags(String... proxyFlags) {
        List<String> args = new ArrayList<>(List.of("--coordinator", "coordinator.example:50051", "--token", "t", "--ca-fingerprint", "f"));
        args.addAll(List.of(proxyFlags));
        return CommandLine.populateCommand(new EnrollCommand(), args.toArray(String[]::new)).proxyOptions;
    }

    static ProxyOptions runFlags(String... proxyFlags) {
        List<String> args = new ArrayList<>(List.of("--data", "d.jsonl"));
        args.addAll(List.of(proxyFlags));
        return CommandLine.populateCommand(new RunCommand(), args.toArray(String[]::new)).proxyOptions;
    }

    @Test
    void noFlagAndNoVariableMeansDirect() {
        assertNull(enrollFlags().resolve(Map.of()));
        assertNull(runFlags("--no-proxy", "localhost").resolve(Map.of("no_proxy", "x")), "an exception list alone sets no proxy");
    }

    @Test
    void theFlagWinsOverTheEnvironmentAndLowerCaseOverUpperCase() {
        Map<String, String> env = Map.of("https_proxy", "http://lower:3128", "HTTPS_PROXY", "http://upper:3128",
                "no_proxy", "lower.test", "NO_PROXY", "upper.test");
        ProxySettings fromFlags = enrollFlags("--proxy", "http://flag:8080", "--no-proxy", "flag.test").resolve(env);
        assertEquals("flag", fromFlags.host());
        assertEquals("--proxy", fromFlags.source());
        assertEquals(List.of("flag.test"), fromFlags.noProxy().entries());

        ProxySettings fromEnvironment = runFlags().resolve(env);
        assertEquals("lower", fromEnvironment.host());
        assertEquals("https_proxy", fromEnvironment.source());
        assertEquals(List.of("lower.test"), fromEnvironment.noProxy().entries());

        ProxySettings upper = runFlags().resolve(Map.of("HTTPS_PROXY", "http://upper:3128", "NO_PROXY", "upper.test", "https_proxy", " "));
        assertEquals("upper", upper.host());
        assertEquals("HTTPS_PROXY", upper.source());
        assertEquals(List.of("upper.test"), upper.noProxy().entries());

        // An empty --no-proxy clears the environment's list; the environment's proxy still applies.
        ProxySettings cleared = runFlags("--no-proxy", "").resolve(env);
        assertEquals("lower", cleared.host());
        assertTrue(cleared.noProxy().isEmpty());
        assertFalse(runFlags("--proxy", "http://p:1", "--no-proxy", "*").resolve(env).appliesTo("coordinator.example:50051"),
                "--no-proxy '*' sends everything direct");
    }

    @Test
    void thePasswordComesFromAFileOrTheVariableNeverOnlyFromArgv() throws Exception {
        Path file = Files.writeString(dir.resolve("pw"), "from-file\r\n");
        Map<String, String> env = Map.of(ProxySettings.PASSWORD_VARIABLE, "from-env");
        assertEquals("from-file", enrollFlags("--proxy", "http://alice@p:3128", "--proxy-password-file", file.toString()).resolve(env).password(),
                "the file (a flag) wins over the variable");
        assertEquals("from-env", enrollFlags("--proxy", "http://alice@p:3128").resolve(env).password());
        assertEquals("alice", runFlags().resolve(Map.of("https_proxy", "http://alice@p:3128", ProxySettings.PASSWORD_VARIABLE, "x")).username());
        assertEquals("in-url", enrollFlags("--proxy", "http://alice:in-url@p:3128").resolve(Map.of()).password());
    }

    @Test
    void refusalsNameTheFlagVariableOrFile() throws Exception {
        assertEquals("--proxy: names proxy user 'alice' but no password; give it in FEDPRUNE_PROXY_PASSWORD, with --proxy-password-file, or in the URL",
                refusal(enrollFlags("--proxy", "http://alice@p:3128"), Map.of()));
        assertEquals("FEDPRUNE_PROXY_PASSWORD: gives a proxy password, but the proxy URL (--proxy) carries one already; give it one way only",
                refusal(enrollFlags("--proxy", "http://alice:a@p:3128"), Map.of(ProxySettings.PASSWORD_VARIABLE, "b")));
        assertEquals("https_proxy: expected http://[user[:password]@]host:port, got 'http://alice:***@p': no port (the proxy's port is required, e.g. :3128)",
                refusal(runFlags(), Map.of("https_proxy", "http://alice:s3cret@p")));
        assertEquals("no_proxy: entry 'a b': not a host name, .domain, *, host:port, IP address or CIDR range",
                refusal(runFlags(), Map.of("https_proxy", "http://p:1", "no_proxy", "localhost,a b")));
        assertEquals("--proxy-password-file: no proxy is set (--proxy, FEDPRUNE_AGENT_PROXY_URL, proxy.url in agent.yaml, https_proxy or HTTPS_PROXY)",
                refusal(runFlags("--proxy-password-file", "x"), Map.of()));
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertEquals("--proxy-password-file: " + empty + " is empty", refusal(enrollFlags("--proxy", "http://a@p:1", "--proxy-password-file", empty.toString()), Map.of()));
        Path twoLines = Files.writeString(dir.resolve("two"), "one\ntwo\n");
        assertEquals("--proxy-password-file: " + twoLines + " holds more than one line; put the password alone on the first",
                refusal(enrollFlags("--proxy", "http://a@p:1", "--proxy-password-file", twoLines.toString()), Map.of()));
        Path missing = dir.resolve("missing");
        assertTrue(refusal(enrollFlags("--proxy", "http://a@p:1", "--proxy-password-file", missing.toString()), Map.of())
                .startsWith("--proxy-password-file: cannot read " + missing));
        assertFalse(refusal(runFlags(), Map.of("https_proxy", "http://alice:s3cret@p")).contains("s3cret"));
    }

    @Test
    void aBadSettingStopsTheCommandWithExitCode2BeforeAnyConnection() {
        assertEquals(2, AgentCli.execute("enroll", "--coordinator", "127.0.0.1:1", "--token", "t", "--ca-fingerprint", "f",
                "--proxy", "socks5://p:1080", "--workdir", dir.resolve("w").toString()));
    }

    private static String refusal(ProxyOptions options, Map<String, String> env) {
        // InvalidProxySettingException for the proxy's own settings, InvalidConfigException for the password file.
        return assertThrows(IllegalArgumentException.class, () -> options.resolve(env)).getMessage();
    }
}
