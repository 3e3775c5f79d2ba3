package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.NoProxy;
import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.task.LocalData;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code enroll} and {@code run} are configured with, resolved from three layers: flags override
 * {@code FEDPRUNE_AGENT_*} environment variables, which override {@code agent.yaml} (named by
 * {@code --config}, else by {@code FEDPRUNE_AGENT_CONFIG}); a key set nowhere takes its default. The
 * proxy settings have a fourth, weakest layer: {@code https_proxy}/{@code HTTPS_PROXY} and
 * {@code no_proxy}/{@code NO_PROXY}. Every value of every layer is checked when it is resolved; what only
 * one command needs (data that exists, an enrollment token) is checked by the methods that command calls.
 * Each value keeps its source, so that any message about it names the flag, variable or file key.
 *
 * @param file             the agent.yaml read, or null
 * @param coordinator      null: none given (enroll refuses; run uses the one enrolled with)
 * @param name             null: the host name
 * @param tokens           token-id JSONL for LLM pruning jobs, or null
 * @param images           IDX images for sparse-training jobs, or null
 * @param proxy            null: direct connections
 * @param threads          null: all cores
 * @param memoryBytes      null: no limit
 * @param enrollmentToken  where the one-time enrollment token is, or null when none is given
 * @param caFingerprint    null: none given
 */
public record AgentConfig(Path file, Sourced<String> coordinator, Sourced<Path> workdir, Sourced<String> name, Sourced<Path> tokens,
                          Sourced<Path> evalTokens, Sourced<Path> images, Sourced<Path> model, Sourced<String> device,
                          Sourced<Boolean> exitWhenIdle, ProxySettings proxy, Sourced<Integer> threads, Sourced<Long> memoryBytes,
                          Secret enrollmentToken, Sourced<String> caFingerprint) {
    private static final Logger log = LoggerFactory.getLogger(AgentConfig.class);

    /** Names the agent.yaml to read when {@code --config} is absent. */
    public static final String CONFIG_VARIABLE = "FEDPRUNE_AGENT_CONFIG";
    /** The enrollment token itself, an alternative to a token file. */
    public static final String TOKEN_VARIABLE = "FEDPRUNE_ENROLLMENT_TOKEN";
    /** Variables with the agent's prefix that belong to a launcher script (JVM options, installation directory), not to the agent. */
    public static final Set<String> LAUNCHER_VARIABLES = Set.of("FEDPRUNE_AGENT_JAVA_OPTS", "FEDPRUNE_AGENT_OPTS", "FEDPRUNE_AGENT_HOME");
    static final Path DEFAULT_WORKDIR = Path.of("fedprune-agent");
    static final String DEFAULT_DEVICE = "cpu";

    /**
     * A secret (the enrollment token) given on the command line or in a variable, or the file that holds it;
     * never shown by {@link #toString()}.
     *
     * @param value  the secret, or null when it is in {@code file}
     * @param file   the file holding it, or null
     * @param source the flag, variable or key that gave it
     */
    public record Secret(String value, Path file, String source) {
        /** The secret, read from its file if it is in one. */
        public String read(String what) {
            return value != null ? value : SecretFile.read(file, source, what);
        }

        @Override
        public String toString() {
            return file != null ? file + " (" + source + ")" : "*** (" + source + ")";
        }
    }

    /** The flags of a command: {@code --config}, the keys' flags, and {@code --token} (enroll). Null means not given. */
    public static final class Flags {
        private final String config;
        private final Map<ConfigKey<?>, String> values = new LinkedHashMap<>();
        private String token;

        public Flags(String config) {
            this.config = config;
        }

        /** Sets {@code key}'s flag to {@code value} unless it is null (flag absent). */
        public Flags with(ConfigKey<?> key, Object value) {
            if (value != null) {
                values.put(key, value.toString());
            }
            return this;
        }

        /** {@code --token}: the enrollment token on the command line (visible in ps). */
        public Flags withToken(String token) {
            this.token = token;
            return this;
        }

        private Map<ConfigKey<?>, Sourced<?>> parsed() {
            Map<ConfigKey<?>, Sourced<?>> parsed = new LinkedHashMap<>();
            values.forEach((key, text) -> parsed.put(key, new Sourced<>(key.parse(new ConfigValues.Raw(text, true), key.flag()),
                    Sourced.Layer.FLAG, key.flag())));
            return parsed;
        }
    }

    /**
     * Resolves the flags with the environment and the agent.yaml they name (or {@value #CONFIG_VARIABLE} names).
     *
     * @throws InvalidConfigException naming the flag, variable or file key that is wrong
     * @throws dev.fedprune.agent.connection.InvalidProxySettingException the same, for proxy settings
     */
    public static AgentConfig resolve(Flags flags, Map<String, String> environment) {
        Path file = null;
        Map<ConfigKey<?>, Sourced<?>> fromFile = Map.of();
        String configSetting = flags.config != null ? "--config" : CONFIG_VARIABLE;
        String configPath = flags.config != null ? flags.config : blankToNull(environment.get(CONFIG_VARIABLE));
        if (configPath != null) {
            file = Path.of(configPath);
            if (!Files.exists(file)) {
                throw new InvalidConfigException(configSetting, file + ": no such file");
            }
            fromFile = AgentConfigFile.read(file, configSetting);
        }
        Layers layers = new Layers(flags.parsed(), fromEnvironment(environment), fromFile);

        return new AgentConfig(file,
                layers.get(ConfigKey.COORDINATOR),
                layers.getOr(ConfigKey.WORKDIR, DEFAULT_WORKDIR),
                layers.get(ConfigKey.NAME),
                layers.get(ConfigKey.DATA_TOKENS),
                layers.get(ConfigKey.DATA_EVAL_TOKENS),
                layers.get(ConfigKey.DATA_IMAGES),
                layers.get(ConfigKey.MODEL),
                layers.getOr(ConfigKey.DEVICE, DEFAULT_DEVICE),
                layers.getOr(ConfigKey.EXIT_WHEN_IDLE, false),
                proxy(layers, environment),
                layers.get(ConfigKey.LIMITS_THREADS),
                layers.get(ConfigKey.LIMITS_MEMORY),
                enrollmentToken(flags.token, layers, environment),
                layers.get(ConfigKey.ENROLLMENT_CA_FINGERPRINT));
    }

    /**
     * The proxy from the flags and the environment alone, as {@code enroll} and {@code run} resolve it
     * without an agent.yaml ({@value #CONFIG_VARIABLE} is not read).
     */
    public static ProxySettings proxyFromFlags(Flags flags, Map<String, String> environment) {
        return proxy(new Layers(flags.parsed(), fromEnvironment(environment), Map.of()), environment);
    }

    /** Whether {@code enroll} was given its token on the command line, which {@code ps} shows to every user of the machine. */
    public boolean tokenOnCommandLine() {
        return enrollmentToken != null && enrollmentToken.value() != null && enrollmentToken.source().equals("--token");
    }

    /**
     * The coordinator to enroll with.
     *
     * @throws InvalidConfigException when no layer gives one
     */
    public Sourced<String> requireCoordinator() {
        if (coordinator == null) {
            throw new InvalidConfigException("coordinator", "required: give --coordinator HOST:PORT, " + ConfigKey.COORDINATOR.variable()
                    + ", or coordinator: in agent.yaml");
        }
        return coordinator;
    }

    /** The pinned CA fingerprint to enroll with; checked by the enrollment itself. */
    public Sourced<String> requireCaFingerprint() {
        if (caFingerprint == null) {
            throw new InvalidConfigException("CA fingerprint", "required: give --ca-fingerprint FP, " + ConfigKey.ENROLLMENT_CA_FINGERPRINT.variable()
                    + ", or enrollment.caFingerprint in agent.yaml (the coordinator prints it at start)");
        }
        return caFingerprint;
    }

    /**
     * The one-time enrollment token, read from its file if it is in one.
     *
     * @throws InvalidConfigException when none is given, or its file cannot be read
     */
    public String readEnrollmentToken() {
        if (enrollmentToken == null) {
            throw new InvalidConfigException("enrollment token", "required: give --token-file FILE, " + TOKEN_VARIABLE + ", "
                    + ConfigKey.ENROLLMENT_TOKEN_FILE.variable() + ", or enrollment.tokenFile in agent.yaml");
        }
        return enrollmentToken.read("token");
    }

    /** The agent's name: the one given, or this host's name. */
    public String agentName() throws UnknownHostException {
        return name != null ? name.value() : InetAddress.getLocalHost().getHostName();
    }

    /**
     * The data {@code run} works on, after checking that what is named exists: token-id JSONL files,
     * directories of images and of the model. At least one kind of data is required.
     *
     * @throws InvalidConfigException naming the setting of a path that is not there, or that no data is given
     */
    public LocalData localData() {
        if (tokens == null && images == null) {
            throw new InvalidConfigException("data", "required: --data FILE (token-id JSONL, for LLM pruning jobs) or --images DIR"
                    + " (IDX images, for sparse-training jobs), or " + ConfigKey.DATA_TOKENS.variable() + "/" + ConfigKey.DATA_IMAGES.variable()
                    + ", or data.tokens/data.images in agent.yaml: an agent without data can work on no job");
        }
        requireFile(tokens, "token-id JSONL, one sample per line");
        requireFile(evalTokens, "token-id JSONL, one sample per line");
        requireDirectory(images, "IDX files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,"
                + " t10k-labels-idx1-ubyte.gz");
        requireDirectory(model, "config.json and safetensors");
        return new LocalData(tokens == null ? null : tokens.value(), images == null ? null : images.value());
    }

    /** The held-out token data, or null (then the calibration data is used). */
    public Path evalTokensPath() {
        return evalTokens == null ? null : evalTokens.value();
    }

    /** The local model copy, or null. */
    public Path modelPath() {
        return model == null ? null : model.value();
    }

    /** The proxy for calls to {@code coordinator}, logging which way they go (never the password); null for direct. */
    public ProxySettings proxyFor(String coordinator) {
        if (proxy == null) {
            return null;
        }
        if (!proxy.appliesTo(coordinator)) {
            log.info("coordinator {} matches no_proxy ({}): connecting directly, not through {}", coordinator, proxy.noProxy(), proxy.address());
        } else {
            log.info("coordinator calls go through the HTTP proxy {}", proxy);
        }
        return proxy;
    }

    private static void requireFile(Sourced<Path> path, String what) {
        if (path != null && !Files.isRegularFile(path.value())) {
            throw new InvalidConfigException(path.source(), "expected an existing file (" + what + "), got " + ConfigValues.quote(path.value().toString())
                    + (Files.exists(path.value()) ? " (not a regular file)" : " (no such file)"));
        }
    }

    private static void requireDirectory(Sourced<Path> path, String what) {
        if (path != null && !Files.isDirectory(path.value())) {
            throw new InvalidConfigException(path.source(), "expected an existing directory (" + what + "), got "
                    + ConfigValues.quote(path.value().toString()) + (Files.exists(path.value()) ? " (not a directory)" : " (no such directory)"));
        }
    }

    /**
     * The {@code FEDPRUNE_AGENT_*} variables, each parsed; an empty one counts as not set. A variable with
     * the prefix that names no key is refused, so that a typo is not silently ignored.
     */
    private static Map<ConfigKey<?>, Sourced<?>> fromEnvironment(Map<String, String> environment) {
        Map<ConfigKey<?>, Sourced<?>> values = new LinkedHashMap<>();
        List<String> known = new ArrayList<>();
        ConfigKey.ALL.forEach(k -> known.add(k.variable()));
        known.add(CONFIG_VARIABLE);
        for (Map.Entry<String, String> entry : new TreeMap<>(environment).entrySet()) {
            String name = entry.getKey();
            if (!name.startsWith(ConfigKey.VARIABLE_PREFIX) || name.equals(CONFIG_VARIABLE) || LAUNCHER_VARIABLES.contains(name)) {
                continue;
            }
            ConfigKey<?> key = ConfigKey.ALL.stream().filter(k -> k.variable().equals(name)).findFirst().orElseThrow(() -> unknownVariable(name, known));
            String text = entry.getValue();
            if (text == null || text.isEmpty()) {
                continue;
            }
            values.put(key, new Sourced<>(key.parse(new ConfigValues.Raw(text, true), name), Sourced.Layer.ENVIRONMENT, name));
        }
        return values;
    }

    private static InvalidConfigException unknownVariable(String name, List<String> known) {
        if (name.equals("FEDPRUNE_AGENT_ENROLLMENT_TOKEN")) {
            return new InvalidConfigException(name, "unknown variable; the token itself goes in " + TOKEN_VARIABLE + ", a file holding it in "
                    + ConfigKey.ENROLLMENT_TOKEN_FILE.variable());
        }
        if (name.equals("FEDPRUNE_AGENT_PROXY_PASSWORD")) {
            return new InvalidConfigException(name, "unknown variable; the password itself goes in " + ProxySettings.PASSWORD_VARIABLE
                    + ", a file holding it in " + ConfigKey.PROXY_PASSWORD_FILE.variable());
        }
        String nearest = AgentConfigFile.Suggestions.nearest(name, known);
        return new InvalidConfigException(name, "unknown variable; " + (nearest == null ? "" : "did you mean " + nearest + "? ")
                + "Expected one of " + String.join(", ", known) + " (" + String.join(" and ", LAUNCHER_VARIABLES.stream().sorted().toList())
                + " are left to launcher scripts)");
    }

    /**
     * The proxy, each of its parts from the strongest layer that gives it: URL from --proxy,
     * FEDPRUNE_AGENT_PROXY_URL, proxy.url, https_proxy, HTTPS_PROXY; exceptions likewise down to
     * no_proxy, NO_PROXY; the password from --proxy-password-file, then FEDPRUNE_PROXY_PASSWORD or
     * FEDPRUNE_AGENT_PROXY_PASSWORD_FILE (not both), then proxy.passwordFile.
     */
    private static ProxySettings proxy(Layers layers, Map<String, String> environment) {
        Sourced<ProxySettings> url = layers.get(ConfigKey.PROXY_URL);
        ProxySettings settings = url != null ? url.value() : null;
        if (settings == null) {
            String variable = firstSet(environment, "https_proxy", "HTTPS_PROXY");
            settings = variable == null ? null : ProxySettings.parse(environment.get(variable), variable);
        }
        Sourced<Path> flagFile = Layers.cast(layers.flags.get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<Path> environmentFile = Layers.cast(layers.environment.get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<Path> fileFile = Layers.cast(layers.file.get(ConfigKey.PROXY_PASSWORD_FILE));
        Sourced<NoProxy> noProxyKey = layers.get(ConfigKey.PROXY_NO_PROXY);
        String noProxyVariable = noProxyKey != null ? null : firstSet(environment, "no_proxy", "NO_PROXY");
        NoProxy noProxy = noProxyKey != null ? noProxyKey.value()
                : noProxyVariable == null ? NoProxy.NONE : NoProxy.parse(environment.get(noProxyVariable), noProxyVariable);
        if (settings == null) {
            Sourced<Path> orphan = flagFile != null ? flagFile : environmentFile != null ? environmentFile : fileFile;
            if (orphan != null) {
                throw new InvalidConfigException(orphan.source(), "no proxy is set (--proxy, " + ConfigKey.PROXY_URL.variable()
                        + ", proxy.url in agent.yaml, https_proxy or HTTPS_PROXY)");
            }
            return null;
        }
        settings = settings.withNoProxy(noProxy);
        String passwordVariable = environment.get(ProxySettings.PASSWORD_VARIABLE);
        if (flagFile != null) {
            settings = settings.withPassword(SecretFile.read(flagFile.value(), flagFile.source(), "password"), flagFile.source());
        } else if (passwordVariable != null && environmentFile != null) {
            throw new InvalidConfigException(environmentFile.source(), "and " + ProxySettings.PASSWORD_VARIABLE
                    + " both give the proxy password; set one of them");
        } else if (passwordVariable != null) {
            settings = settings.withPassword(passwordVariable, ProxySettings.PASSWORD_VARIABLE);
        } else if (environmentFile != null) {
            settings = settings.withPassword(SecretFile.read(environmentFile.value(), environmentFile.source(), "password"), environmentFile.source());
        } else if (fileFile != null) {
            settings = settings.withPassword(SecretFile.read(fileFile.value(), fileFile.source(), "password"), fileFile.source());
        }
        if (url != null && url.layer() == Sourced.Layer.FILE && settings.username() != null && settings.password() == null) {
            // ProxySettings would also suggest the URL, where agent.yaml takes no password.
            throw new InvalidConfigException(url.source(), "names proxy user '" + settings.username() + "' but no password; name a file holding it"
                    + " with proxy.passwordFile, or set " + ProxySettings.PASSWORD_VARIABLE);
        }
        return settings.requireCompleteCredentials();
    }

    /**
     * Where the enrollment token is: --token or --token-file (not both), then FEDPRUNE_ENROLLMENT_TOKEN or
     * FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE (not both), then enrollment.tokenFile. Nothing is read yet:
     * {@code run} never needs the token, whose file may be gone after enrollment.
     */
    private static Secret enrollmentToken(String tokenFlag, Layers layers, Map<String, String> environment) {
        Sourced<Path> flagFile = Layers.cast(layers.flags.get(ConfigKey.ENROLLMENT_TOKEN_FILE));
        if (tokenFlag != null && flagFile != null) {
            throw new InvalidConfigException("--token", "and --token-file both give the enrollment token; give one (--token-file keeps it out of ps)");
        }
        if (tokenFlag != null) {
            if (tokenFlag.isBlank()) {
                throw new InvalidConfigException("--token", "expected the one-time enrollment token, got \"\"");
            }
            return new Secret(tokenFlag, null, "--token");
        }
        if (flagFile != null) {
            return new Secret(null, flagFile.value(), flagFile.source());
        }
        String variable = blankToNull(environment.get(TOKEN_VARIABLE));
        Sourced<Path> environmentFile = Layers.cast(layers.environment.get(ConfigKey.ENROLLMENT_TOKEN_FILE));
        if (variable != null && environmentFile != null) {
            throw new InvalidConfigException(environmentFile.source(), "and " + TOKEN_VARIABLE + " both give the enrollment token; set one of them");
        }
        if (variable != null) {
            return new Secret(variable, null, TOKEN_VARIABLE);
        }
        if (environmentFile != null) {
            return new Secret(null, environmentFile.value(), environmentFile.source());
        }
        Sourced<Path> fileFile = Layers.cast(layers.file.get(ConfigKey.ENROLLMENT_TOKEN_FILE));
        return fileFile == null ? null : new Secret(null, fileFile.value(), fileFile.source());
    }

    private static String firstSet(Map<String, String> environment, String... names) {
        for (String name : names) {
            String value = environment.get(name);
            if (value != null && !value.isBlank()) {
                return name;
            }
        }
        return null;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }

    /** The three layers' values, strongest first. */
    private record Layers(Map<ConfigKey<?>, Sourced<?>> flags, Map<ConfigKey<?>, Sourced<?>> environment, Map<ConfigKey<?>, Sourced<?>> file) {
        <T> Sourced<T> get(ConfigKey<T> key) {
            for (Map<ConfigKey<?>, Sourced<?>> layer : List.of(flags, environment, file)) {
                Sourced<?> value = layer.get(key);
                if (value != null) {
                    return cast(value);
                }
            }
            return null;
        }

        <T> Sourced<T> getOr(ConfigKey<T> key, T fallback) {
            Sourced<T> value = get(key);
            return value != null ? value : Sourced.byDefault(fallback);
        }

        @SuppressWarnings("unchecked")
        static <T> Sourced<T> cast(Sourced<?> value) {
            return (Sourced<T>) value;
        }
    }
}
