package dev.fedprune.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.fedprune.agent.connection.InvalidProxySettingException;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.task.LocalData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** agent.yaml, FEDPRUNE_AGENT_* variables and flags: which wins, and what a bad setting is told. */
class AgentConfigTest {
    @TempDir
    Path dir;

    private Path yaml(String text) throws Exception {
        return Files.writeString(dir.resolve("agent.yaml"), text);
    }

    private static AgentConfig.Flags flags(Path config) {
        return new AgentConfig.Flags(config == null ? null : config.toString());
    }

    private static String refusal(AgentConfig.Flags flags, Map<String, String> env) {
        return assertThrows(IllegalArgumentException.class, () -> AgentConfig.resolve(flags, env)).getMessage();
    }

    private String fileRefusal(String text) throws Exception {
        return refusal(flags(yaml(text)), Map.of());
    }

    @Test
    void flagsOverrideTheEnvironmentWhichOverridesTheFile() throws Exception {
        Path file = yaml("""
                coordinator: coord.example.org:50051
                workdir: /var/lib/fedprune-agent
                name: hospital-a
                device: cpu
                exitWhenIdle: false
                limits:
                  threads: 4
                  memory: 8g
                """);
        Map<String, String> env = Map.of("FEDPRUNE_AGENT_WORKDIR", "/from/env", "FEDPRUNE_AGENT_LIMITS_THREADS", "2",
                "FEDPRUNE_AGENT_DEVICE", "cuda", "FEDPRUNE_AGENT_EXIT_WHEN_IDLE", "true");
        AgentConfig config = AgentConfig.resolve(flags(file).with(ConfigKey.LIMITS_THREADS, "1").with(ConfigKey.DEVICE, "cuda:1"), env);

        assertEquals("coord.example.org:50051", config.coordinator().value(), "the file's, nothing overrides it");
        assertEquals(file + ": coordinator", config.coordinator().source());
        assertEquals(Sourced.Layer.FILE, config.coordinator().layer());
        assertEquals(Path.of("/from/env"), config.workdir().value(), "the variable wins over the file");
        assertEquals("FEDPRUNE_AGENT_WORKDIR", config.workdir().source());
        assertEquals(1, config.threads().value(), "the flag wins over the variable and the file");
        assertEquals("--threads", config.threads().source());
        assertEquals("cuda:1", config.device().value());
        assertTrue(config.exitWhenIdle().value());
        assertEquals("hospital-a", config.agentName());
        assertEquals(8L << 30, config.memoryBytes().value());
        assertEquals(file, config.file());
    }

    @Test
    void withoutAFileEveryKeyTakesItsDefault() throws Exception {
        AgentConfig config = AgentConfig.resolve(flags(null), Map.of());
        assertNull(config.file());
        assertNull(config.coordinator());
        assertEquals(Sourced.byDefault(Path.of("fedprune-agent")), config.workdir());
        assertEquals("cpu", config.device().value());
        assertFalse(config.exitWhenIdle().value());
        assertNull(config.threads(), "all cores");
        assertNull(config.memoryBytes(), "no limit");
        assertNull(config.proxy());
        assertNull(config.enrollmentToken());
        assertEquals(java.net.InetAddress.getLocalHost().getHostName(), config.agentName());
    }

    @Test
    void theFileIsNamedByTheFlagElseByTheVariable() throws Exception {
        Path fromFlag = Files.writeString(dir.resolve("flag.yaml"), "name: from-flag\n");
        Path fromVariable = Files.writeString(dir.resolve("variable.yaml"), "name: from-variable\n");
        Map<String, String> env = Map.of("FEDPRUNE_AGENT_CONFIG", fromVariable.toString());
        assertEquals("from-flag", AgentConfig.resolve(flags(fromFlag), env).agentName());
        assertEquals("from-variable", AgentConfig.resolve(flags(null), env).agentName());
        assertEquals(fromVariable, AgentConfig.resolve(flags(null), env).file());
    }

    @Test
    void aMissingOrUnreadableFileSaysSo() throws Exception {
        Path missing = dir.resolve("nowhere/agent.yaml");
        assertEquals("--config: " + missing + ": no such file", refusal(flags(missing), Map.of()));
        assertEquals("FEDPRUNE_AGENT_CONFIG: " + missing + ": no such file", refusal(flags(null), Map.of("FEDPRUNE_AGENT_CONFIG", missing.toString())));
        assertEquals("--config: " + dir + ": is a directory, expected an agent.yaml file", refusal(flags(dir), Map.of()));

        Path locked = Files.writeString(dir.resolve("locked.yaml"), "name: x\n");
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
        assumeFalse(Files.isReadable(locked), "running as root: every file is readable");
        assertEquals("--config: " + locked + ": cannot read: permission denied", refusal(flags(locked), Map.of()));
    }

    @Test
    void unknownKeysAreRefusedWithTheNearestKnownKey() throws Exception {
        Path file = dir.resolve("agent.yaml");
        assertEquals(file + ": limits.thread: unknown key; did you mean limits.threads? Expected one of limits.threads, limits.memory",
                fileRefusal("limits:\n  thread: 4\n"));
        assertEquals(file + ": coordinater: unknown key; did you mean coordinator? Expected one of coordinator, workdir, name, data, model,"
                + " device, exitWhenIdle, proxy, limits, enrollment", fileRefusal("coordinater: c:1\n"));
        assertEquals(file + ": limit: unknown key; did you mean limits? Expected one of coordinator, workdir, name, data, model,"
                + " device, exitWhenIdle, proxy, limits, enrollment", fileRefusal("limit:\n  threads: 4\n"));
        assertEquals(file + ": data.evalData: unknown key; did you mean data.evalTokens? Expected one of data.tokens, data.evalTokens, data.images",
                fileRefusal("data:\n  evalData: x.jsonl\n"));
        assertEquals(file + ": threads: unknown key; did you mean limits.threads? Expected one of coordinator, workdir, name, data, model,"
                + " device, exitWhenIdle, proxy, limits, enrollment", fileRefusal("threads: 4\n"));
        assertEquals(file + ": site: unknown key; Expected one of coordinator, workdir, name, data, model, device, exitWhenIdle, proxy, limits,"
                + " enrollment", fileRefusal("site: ward-7\n"));
        assertEquals(file + ": enrollment.token: unknown key; the token never goes in agent.yaml: name a file holding it with"
                + " enrollment.tokenFile, or set FEDPRUNE_ENROLLMENT_TOKEN", fileRefusal("enrollment:\n  token: fpe_secret\n"));
    }

    @Test
    void badValuesNameTheFileTheKeyTheExpectedValueAndWhatWasFound() throws Exception {
        Path file = dir.resolve("agent.yaml");
        assertEquals(file + ": limits.threads: expected an integer >= 1, got \"four\"", fileRefusal("limits:\n  threads: four\n"));
        assertEquals(file + ": limits.threads: expected an integer >= 1, got 0", fileRefusal("limits:\n  threads: 0\n"));
        assertEquals(file + ": limits.threads: expected an integer >= 1, got 2.5", fileRefusal("limits:\n  threads: 2.5\n"));
        assertEquals(file + ": limits.threads: expected an integer >= 1, got a list", fileRefusal("limits:\n  threads: [1, 2]\n"));
        assertEquals(file + ": limits.memory: expected a size in bytes with an optional k, m or g suffix (8g, 512m), got \"8 GB\"",
                fileRefusal("limits:\n  memory: 8 GB\n"));
        assertEquals(file + ": limits.memory: expected a size in bytes with an optional k, m or g suffix (8g, 512m), got 0 (must be above 0)",
                fileRefusal("limits:\n  memory: 0\n"));
        assertEquals(file + ": exitWhenIdle: expected true or false, got \"yes\"", fileRefusal("exitWhenIdle: yes\n"));
        assertEquals(file + ": device: expected cpu, cuda or cuda:N, got \"tpu\"", fileRefusal("device: tpu\n"));
        assertEquals(file + ": coordinator: expected HOST:PORT (the coordinator's gRPC address), got \"coord.example.org\" (no port)",
                fileRefusal("coordinator: coord.example.org\n"));
        assertEquals(file + ": coordinator: expected HOST:PORT (the coordinator's gRPC address), got \"coord.example.org:99999\""
                + " (port 99999 is not between 1 and 65535)", fileRefusal("coordinator: coord.example.org:99999\n"));
        assertEquals(file + ": name: expected a non-empty agent name, got \"\"", fileRefusal("name: ''\n"));
        assertEquals(file + ": data: expected a mapping of tokens, evalTokens, images, got \"/srv/calibration.jsonl\"",
                fileRefusal("data: /srv/calibration.jsonl\n"));
        assertEquals(file + ": data.tokens: expected a token-id JSONL file, got a mapping", fileRefusal("data:\n  tokens:\n    path: x\n"));
        assertEquals(file + ": expected a mapping of keys (coordinator, workdir, name, data, model, device, exitWhenIdle, proxy, limits,"
                + " enrollment), got a list", fileRefusal("- coordinator\n"));
        // The proxy's own parser, with the file and key as the setting.
        assertEquals(file + ": proxy.url: expected http://[user[:password]@]host:port, got 'socks5://p:1080': SOCKS proxies are not supported,"
                + " only HTTP CONNECT proxies", fileRefusal("proxy:\n  url: socks5://p:1080\n"));
        assertEquals(file + ": proxy.noProxy: entry 'a b': not a host name, .domain, *, host:port, IP address or CIDR range",
                fileRefusal("proxy:\n  url: http://p:3128\n  noProxy: localhost,a b\n"));
    }

    @Test
    void aBadValueIsRefusedEvenWhereAFlagOverridesIt() throws Exception {
        Path file = yaml("limits:\n  threads: four\n");
        assertEquals(file + ": limits.threads: expected an integer >= 1, got \"four\"",
                refusal(flags(file).with(ConfigKey.LIMITS_THREADS, "2"), Map.of()));
    }

    @Test
    void variablesAndFlagsAreCheckedTheSameWay() {
        assertEquals("FEDPRUNE_AGENT_LIMITS_THREADS: expected an integer >= 1, got \"four\"",
                refusal(flags(null), Map.of("FEDPRUNE_AGENT_LIMITS_THREADS", "four")));
        assertEquals("--threads: expected an integer >= 1, got \"-1\"", refusal(flags(null).with(ConfigKey.LIMITS_THREADS, "-1"), Map.of()));
        assertEquals("--memory: expected a size in bytes with an optional k, m or g suffix (8g, 512m), got \"lots\"",
                refusal(flags(null).with(ConfigKey.LIMITS_MEMORY, "lots"), Map.of()));
    }

    @Test
    void yamlThatDoesNotParseIsRefusedWithItsLine() throws Exception {
        Path file = dir.resolve("agent.yaml");
        assertEquals(file + ": not valid YAML at line 2, column 5: key \"name\" appears twice", fileRefusal("name: a\nname: b\n"));
        assertEquals(file + ": not valid YAML at line 3, column 1: more than one YAML document (---); agent.yaml holds one",
                fileRefusal("name: a\n---\nname: b\n"));
        String indentation = fileRefusal("limits:\n  threads: 4\n memory: 8g\n");
        assertTrue(indentation.startsWith(file + ": not valid YAML at line 3, column 2: while parsing a block mapping; expected <block end>"),
                indentation);
    }

    @Test
    void anEmptyFileOrAnEmptyValueSetsNothing() throws Exception {
        assertEquals(AgentConfig.resolve(flags(null), Map.of()).workdir(), AgentConfig.resolve(flags(yaml("")), Map.of()).workdir());
        AgentConfig config = AgentConfig.resolve(flags(yaml("model:\ndata:\nproxy:\n  url:\n")), Map.of());
        assertNull(config.model());
        assertNull(config.tokens());
        assertNull(config.proxy());
    }

    @Test
    void variablesAreTheKeysInUpperSnakeCaseAndUnknownOnesAreRefused() {
        assertEquals(List.of("FEDPRUNE_AGENT_COORDINATOR", "FEDPRUNE_AGENT_WORKDIR", "FEDPRUNE_AGENT_NAME", "FEDPRUNE_AGENT_DATA_TOKENS",
                "FEDPRUNE_AGENT_DATA_EVAL_TOKENS", "FEDPRUNE_AGENT_DATA_IMAGES", "FEDPRUNE_AGENT_MODEL", "FEDPRUNE_AGENT_DEVICE",
                "FEDPRUNE_AGENT_EXIT_WHEN_IDLE", "FEDPRUNE_AGENT_PROXY_URL", "FEDPRUNE_AGENT_PROXY_NO_PROXY", "FEDPRUNE_AGENT_PROXY_PASSWORD_FILE",
                "FEDPRUNE_AGENT_LIMITS_THREADS", "FEDPRUNE_AGENT_LIMITS_MEMORY", "FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE",
                "FEDPRUNE_AGENT_ENROLLMENT_CA_FINGERPRINT"), ConfigKey.ALL.stream().map(ConfigKey::variable).toList());

        String typo = refusal(flags(null), Map.of("FEDPRUNE_AGENT_DATA_TOKEN", "x.jsonl"));
        assertTrue(typo.startsWith("FEDPRUNE_AGENT_DATA_TOKEN: unknown variable; did you mean FEDPRUNE_AGENT_DATA_TOKENS? Expected one of"
                + " FEDPRUNE_AGENT_COORDINATOR, "), typo);
        assertEquals("FEDPRUNE_AGENT_ENROLLMENT_TOKEN: unknown variable; the token itself goes in FEDPRUNE_ENROLLMENT_TOKEN, a file holding it"
                + " in FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE", refusal(flags(null), Map.of("FEDPRUNE_AGENT_ENROLLMENT_TOKEN", "fpe_x")));
        // A launcher's variables and empty ones are no settings.
        AgentConfig config = AgentConfig.resolve(flags(null), Map.of("FEDPRUNE_AGENT_JAVA_OPTS", "-Xmx4g", "FEDPRUNE_AGENT_OPTS", "-Xmx4g", "FEDPRUNE_AGENT_HOME", "/opt/fedprune-agent",
                "FEDPRUNE_AGENT_NAME", ""));
        assertNull(config.name());
    }

    @Test
    void pathsThatMustExistAreCheckedWhenTheCommandNeedsThemNamingTheirSetting() throws Exception {
        Path data = Files.writeString(dir.resolve("calibration.jsonl"), "{\"ids\":[1,2]}\n");
        Path images = Files.createDirectory(dir.resolve("images"));
        Path missing = dir.resolve("heldout.jsonl");
        Path file = yaml("data:\n  tokens: " + data + "\n  images: " + images + "\n  evalTokens: " + missing + "\n");
        // Resolving checks the values' form only: enroll never looks at data.
        AgentConfig config = AgentConfig.resolve(flags(file), Map.of());
        assertEquals(file + ": data.evalTokens: expected an existing file (token-id JSONL, one sample per line), got \"" + missing + "\" (no such file)",
                assertThrows(InvalidConfigException.class, config::localData).getMessage());

        assertEquals(new LocalData(data, images), AgentConfig.resolve(flags(file).with(ConfigKey.DATA_EVAL_TOKENS, data), Map.of()).localData());
        assertEquals("--images: expected an existing directory (IDX files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
                + " t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), got \"" + data + "\" (not a directory)",
                assertThrows(InvalidConfigException.class, () -> AgentConfig.resolve(flags(null).with(ConfigKey.DATA_IMAGES, data), Map.of())
                        .localData()).getMessage());
        assertEquals("FEDPRUNE_AGENT_MODEL: expected an existing directory (config.json and safetensors), got \"" + missing + "\" (no such directory)",
                assertThrows(InvalidConfigException.class, () -> AgentConfig.resolve(flags(null).with(ConfigKey.DATA_TOKENS, data),
                        Map.of("FEDPRUNE_AGENT_MODEL", missing.toString())).localData()).getMessage());
        assertTrue(assertThrows(InvalidConfigException.class, () -> AgentConfig.resolve(flags(null), Map.of()).localData()).getMessage()
                .startsWith("data: required: --data FILE"));
    }

    @Test
    void theEnrollmentTokenComesFromAFileOrTheEnvironmentInThatPrecedence() throws Exception {
        Path fromFlag = Files.writeString(dir.resolve("token-flag"), "fpe_flag\n");
        Path fromVariableFile = Files.writeString(dir.resolve("token-env"), "fpe_env_file\n");
        Path fromConfig = Files.writeString(dir.resolve("token-config"), "fpe_config\n");
        Path file = yaml("enrollment:\n  tokenFile: " + fromConfig + "\n  caFingerprint: AB:CD\n");

        assertEquals("fpe_config", AgentConfig.resolve(flags(file), Map.of()).readEnrollmentToken());
        assertEquals("fpe_env_file", AgentConfig.resolve(flags(file), Map.of("FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE", fromVariableFile.toString()))
                .readEnrollmentToken());
        assertEquals("fpe_env", AgentConfig.resolve(flags(file), Map.of("FEDPRUNE_ENROLLMENT_TOKEN", "fpe_env")).readEnrollmentToken());
        assertEquals("fpe_flag", AgentConfig.resolve(flags(file).with(ConfigKey.ENROLLMENT_TOKEN_FILE, fromFlag),
                Map.of("FEDPRUNE_ENROLLMENT_TOKEN", "fpe_env")).readEnrollmentToken());
        AgentConfig onCommandLine = AgentConfig.resolve(flags(file).withToken("fpe_argv"), Map.of("FEDPRUNE_ENROLLMENT_TOKEN", "fpe_env"));
        assertEquals("fpe_argv", onCommandLine.readEnrollmentToken(), "--token still works (enroll warns about ps)");
        assertTrue(onCommandLine.tokenOnCommandLine());
        assertFalse(AgentConfig.resolve(flags(file), Map.of()).tokenOnCommandLine());
        assertEquals("AB:CD", AgentConfig.resolve(flags(file), Map.of()).requireCaFingerprint().value());

        assertEquals("--token: and --token-file both give the enrollment token; give one (--token-file keeps it out of ps)",
                refusal(flags(null).withToken("a").with(ConfigKey.ENROLLMENT_TOKEN_FILE, fromFlag), Map.of()));
        assertEquals("FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE: and FEDPRUNE_ENROLLMENT_TOKEN both give the enrollment token; set one of them",
                refusal(flags(null), Map.of("FEDPRUNE_ENROLLMENT_TOKEN", "a", "FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE", fromFlag.toString())));
        assertTrue(AgentConfig.resolve(flags(null), Map.of()).toString().contains("enrollmentToken=null"));
        assertFalse(onCommandLine.toString().contains("fpe_argv"), "a secret never shows in toString");
    }

    @Test
    void runNeverReadsTheTokenFileWhichMayBeGoneAfterEnrollment() throws Exception {
        Path gone = dir.resolve("enrollment-token");
        Path file = yaml("enrollment:\n  tokenFile: " + gone + "\n");
        AgentConfig config = AgentConfig.resolve(flags(file), Map.of());
        assertEquals(file + ": enrollment.tokenFile: cannot read " + gone + ": no such file",
                assertThrows(InvalidConfigException.class, config::readEnrollmentToken).getMessage());
        assertEquals("enrollment token: required: give --token-file FILE, FEDPRUNE_ENROLLMENT_TOKEN, FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE,"
                + " or enrollment.tokenFile in agent.yaml", assertThrows(InvalidConfigException.class,
                () -> AgentConfig.resolve(flags(null), Map.of()).readEnrollmentToken()).getMessage());
    }

    @Test
    void theProxyLayersAreFlagThenVariableThenFileThenHttpsProxy() throws Exception {
        Path password = Files.writeString(dir.resolve("proxy-password"), "from-file\n");
        Path file = yaml("proxy:\n  url: http://alice@file-proxy:3128\n  noProxy: .hospital.local\n  passwordFile: " + password + "\n");
        Map<String, String> env = new HashMap<>(Map.of("https_proxy", "http://ambient:8080", "no_proxy", "ambient.test"));

        ProxySettings fromFile = AgentConfig.resolve(flags(file), env).proxy();
        assertEquals("file-proxy", fromFile.host(), "the file wins over https_proxy");
        assertEquals(file + ": proxy.url", fromFile.source());
        assertEquals(List.of(".hospital.local"), fromFile.noProxy().entries());
        assertEquals("from-file", fromFile.password());

        env.put(ProxySettings.PASSWORD_VARIABLE, "from-env");
        env.put("FEDPRUNE_AGENT_PROXY_URL", "http://alice@env-proxy:3128");
        ProxySettings fromEnvironment = AgentConfig.resolve(flags(file), env).proxy();
        assertEquals("env-proxy", fromEnvironment.host());
        assertEquals("from-env", fromEnvironment.password(), "the variable wins over the file's password file");
        assertEquals(List.of(".hospital.local"), fromEnvironment.noProxy().entries(), "each part from the strongest layer that gives it");

        Path flagPassword = Files.writeString(dir.resolve("flag-password"), "from-flag\n");
        ProxySettings fromFlags = AgentConfig.resolve(flags(file).with(ConfigKey.PROXY_URL, "http://bob@flag-proxy:1")
                .with(ConfigKey.PROXY_PASSWORD_FILE, flagPassword).with(ConfigKey.PROXY_NO_PROXY, ""), env).proxy();
        assertEquals("flag-proxy", fromFlags.host());
        assertEquals("from-flag", fromFlags.password());
        assertTrue(fromFlags.noProxy().isEmpty());

        // Without anything of the agent's own, the usual variables still apply.
        ProxySettings ambient = AgentConfig.resolve(flags(null), Map.of("https_proxy", "http://ambient:8080", "no_proxy", "ambient.test")).proxy();
        assertEquals("https_proxy", ambient.source());
        assertEquals(List.of("ambient.test"), ambient.noProxy().entries());
    }

    @Test
    void theProxyPasswordNeverComesFromTheFileItself() throws Exception {
        Path file = dir.resolve("agent.yaml");
        assertEquals(file + ": proxy.url: expected http://[user@]host:port without a password, got \"http://alice:***@p:3128\"; agent.yaml is"
                + " no place for secrets: name a file holding the password with proxy.passwordFile, or set FEDPRUNE_PROXY_PASSWORD",
                fileRefusal("proxy:\n  url: http://alice:s3cret@p:3128\n"));
        assertFalse(fileRefusal("proxy:\n  url: http://alice:s3cret@p:3128\n").contains("s3cret"));
        assertEquals(file + ": proxy.password: unknown key; the password never goes in agent.yaml: name a file holding it with"
                + " proxy.passwordFile, or set FEDPRUNE_PROXY_PASSWORD", fileRefusal("proxy:\n  password: s3cret\n"));
        // A user without any password: refused, naming where it may come from.
        assertEquals(file + ": proxy.url: names proxy user 'alice' but no password; name a file holding it with proxy.passwordFile, or set"
                + " FEDPRUNE_PROXY_PASSWORD", fileRefusal("proxy:\n  url: http://alice@p:3128\n"));
        assertThrows(InvalidProxySettingException.class, () -> AgentConfig.resolve(flags(null), Map.of("FEDPRUNE_AGENT_PROXY_URL", "http://alice@p:3128")));
        Path password = Files.writeString(dir.resolve("pw"), "pw\n");
        assertEquals(file + ": proxy.passwordFile: no proxy is set (--proxy, FEDPRUNE_AGENT_PROXY_URL, proxy.url in agent.yaml, https_proxy or HTTPS_PROXY)",
                fileRefusal("proxy:\n  passwordFile: " + password + "\n"));
        assertEquals("FEDPRUNE_AGENT_PROXY_PASSWORD_FILE: and FEDPRUNE_PROXY_PASSWORD both give the proxy password; set one of them",
                refusal(flags(null), Map.of("FEDPRUNE_AGENT_PROXY_URL", "http://alice@p:1", "FEDPRUNE_PROXY_PASSWORD", "a",
                        "FEDPRUNE_AGENT_PROXY_PASSWORD_FILE", password.toString())));
    }

    @Test
    void sizesTakeBinarySuffixes() {
        assertEquals(8L << 30, ConfigValues.parseBytes("8g"));
        assertEquals(512L << 20, ConfigValues.parseBytes("512M"));
        assertEquals(1024L << 10, ConfigValues.parseBytes("1024k"));
        assertEquals(2L << 40, ConfigValues.parseBytes("2t"));
        assertEquals(123, ConfigValues.parseBytes("123"));
        for (String bad : List.of("", "8 g", "8gb", "-1", "1.5g", "99999999999999999999", "9999999999t")) {
            assertThrows(IllegalArgumentException.class, () -> ConfigValues.parseBytes(bad), bad);
        }
    }

    @Test
    void theReadmeExampleIsAValidAgentYaml() throws Exception {
        Path data = Files.writeString(dir.resolve("calibration.jsonl"), "{\"ids\":[1]}\n");
        Path password = Files.writeString(dir.resolve("proxy-password"), "pw\n");
        Path file = yaml("""
                coordinator: coord.example.org:50051
                workdir: /var/lib/fedprune-agent
                name: hospital-a
                data:
                  tokens: %s
                  evalTokens: /srv/fedprune/heldout.jsonl
                  images: /srv/fedprune/images
                model: /srv/models/llama-3.2-1b
                device: cpu
                exitWhenIdle: false
                proxy:
                  url: http://alice@proxy.hospital.local:3128
                  noProxy: localhost,127.0.0.1,.hospital.local
                  passwordFile: %s
                limits:
                  threads: 4
                  memory: 8g
                enrollment:
                  tokenFile: /etc/fedprune-agent/enrollment-token
                  caFingerprint: AB:CD:EF
                """.formatted(data, password));
        AgentConfig config = AgentConfig.resolve(flags(file), Map.of());
        assertEquals(Path.of("/srv/fedprune/heldout.jsonl"), config.evalTokensPath());
        assertEquals(Path.of("/srv/models/llama-3.2-1b"), config.modelPath());
        assertEquals("alice", config.proxy().username());
        assertEquals(4, config.threads().value());
        assertEquals(Path.of("/etc/fedprune-agent/enrollment-token"), config.enrollmentToken().file());
    }
}
