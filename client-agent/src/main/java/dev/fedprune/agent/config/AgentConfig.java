package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.ProxySettings;
import dev.fedprune.agent.task.LocalData;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
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
        ConfigLayers layers = new ConfigLayers(flags.parsed(), ConfigLayers.fromEnvironment(environment), fromFile);

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
                ProxyResolution.resolve(layers, environment),
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
        return ProxyResolution.resolve(new ConfigLayers(flags.parsed(), ConfigLayers.fromEnvironment(environment), Map.of()), environment);
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
     * Where the enrollment token is: --token or --token-file (not both), then FEDPRUNE_ENROLLMENT_TOKEN or
     * FEDPRUNE_AGENT_ENROLLMENT_TOKEN_FILE (not both), then enrollment.tokenFile. Nothing is read yet:
     * {@code run} never needs the token, whose file may be gone after enrollment.
     */
    private static Secret enrollmentToken(String tokenFlag, ConfigLayers layers, Map<String, String> environment) {
        Sourced<Path> flagFile = ConfigLayers.cast(layers.flags().get(ConfigKey.ENROLLMENT_TOKEN_FILE));
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
        Sourced<Path> environmentFile = ConfigLayers.cast(layers.environment().get(ConfigKey.ENROLLMENT_TOKEN_FILE));
        if (variable != null && environmentFile != null) {
            throw new InvalidConfigException(environmentFile.source(), "and " + TOKEN_VARIABLE + " both give the enrollment token; set one of them");
        }
        if (variable != null) {
            return new Secret(variable, null, TOKEN_VARIABLE);
        }
        if (environmentFile != null) {
            return new Secret(null, environmentFile.value(), environmentFile.source());
        }
        Sourced<Path> fileFile = ConfigLayers.cast(layers.file().get(ConfigKey.ENROLLMENT_TOKEN_FILE));
        return fileFile == null ? null : new Secret(null, fileFile.value(), fileFile.source());
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }
}
