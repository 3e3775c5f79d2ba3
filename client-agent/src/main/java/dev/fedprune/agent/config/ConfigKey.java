package dev.fedprune.agent.config;

import dev.fedprune.agent.connection.NoProxy;
import dev.fedprune.agent.connection.ProxySettings;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * One setting of the agent, under the three names it has: its key in {@code agent.yaml} ({@code data.tokens}),
 * its environment variable ({@code FEDPRUNE_AGENT_DATA_TOKENS}, the key in upper snake case) and its flag
 * ({@code --data}); with the value it expects and the parser that checks it. Every layer's values go
 * through the same parser, so that a bad value gets the same message wherever it was written.
 */
public final class ConfigKey<T> {
    /** Prefix of every variable named after a key. */
    public static final String VARIABLE_PREFIX = "FEDPRUNE_AGENT_";

    public static final ConfigKey<String> COORDINATOR = new ConfigKey<>("coordinator", "--coordinator",
            "HOST:PORT (the coordinator's gRPC address)", value(ConfigKey::address));
    public static final ConfigKey<Path> WORKDIR = new ConfigKey<>("workdir", "--workdir", "a directory path", value(ConfigKey::path));
    public static final ConfigKey<String> NAME = new ConfigKey<>("name", "--name", "a non-empty agent name", value(ConfigKey::nonBlank));
    public static final ConfigKey<Path> DATA_TOKENS = new ConfigKey<>("data.tokens", "--data", "a token-id JSONL file", value(ConfigKey::path));
    public static final ConfigKey<Path> DATA_EVAL_TOKENS = new ConfigKey<>("data.evalTokens", "--eval-data", "a token-id JSONL file", value(ConfigKey::path));
    public static final ConfigKey<Path> DATA_IMAGES = new ConfigKey<>("data.images", "--images", "a directory of IDX image files", value(ConfigKey::path));
    public static final ConfigKey<Path> MODEL = new ConfigKey<>("model", "--model", "a model directory", value(ConfigKey::path));
    public static final ConfigKey<String> DEVICE = new ConfigKey<>("device", "--device", "cpu, cuda or cuda:N", value(ConfigKey::device));
    public static final ConfigKey<Boolean> EXIT_WHEN_IDLE = new ConfigKey<>("exitWhenIdle", "--exit-when-idle", "true or false", value(ConfigKey::bool));
    public static final ConfigKey<ProxySettings> PROXY_URL = new ConfigKey<>("proxy.url", "--proxy", "http://[user@]host:port", ProxySettings::parse);
    public static final ConfigKey<NoProxy> PROXY_NO_PROXY = new ConfigKey<>("proxy.noProxy", "--no-proxy",
            "a comma-separated list of hosts, .domains, host:port, IP addresses or CIDR ranges", NoProxy::parse);
    public static final ConfigKey<Path> PROXY_PASSWORD_FILE = new ConfigKey<>("proxy.passwordFile", "--proxy-password-file",
            "a file holding the proxy password", value(ConfigKey::path));
    public static final ConfigKey<Integer> LIMITS_THREADS = new ConfigKey<>("limits.threads", "--threads", "an integer >= 1", value(ConfigKey::threads));
    public static final ConfigKey<Long> LIMITS_MEMORY = new ConfigKey<>("limits.memory", "--memory",
            "a size in bytes with an optional k, m or g suffix (8g, 512m)", value(ConfigKey::bytes));
    public static final ConfigKey<Path> ENROLLMENT_TOKEN_FILE = new ConfigKey<>("enrollment.tokenFile", "--token-file",
            "a file holding the one-time enrollment token", value(ConfigKey::path));
    public static final ConfigKey<String> ENROLLMENT_CA_FINGERPRINT = new ConfigKey<>("enrollment.caFingerprint", "--ca-fingerprint",
            "the SHA-256 fingerprint of the coordinator's CA", value(ConfigKey::nonBlank));

    /** Every key, in the order of the README's example. */
    public static final List<ConfigKey<?>> ALL = List.of(COORDINATOR, WORKDIR, NAME, DATA_TOKENS, DATA_EVAL_TOKENS, DATA_IMAGES, MODEL, DEVICE,
            EXIT_WHEN_IDLE, PROXY_URL, PROXY_NO_PROXY, PROXY_PASSWORD_FILE, LIMITS_THREADS, LIMITS_MEMORY, ENROLLMENT_TOKEN_FILE,
            ENROLLMENT_CA_FINGERPRINT);

    private final String path;
    private final String flag;
    private final String expected;
    private final Parser<T> parser;

    /** Text to value; throws {@link Unexpected} when the text is not one, or an exception whose message names {@code setting}. */
    private interface Parser<T> {
        T parse(String text, String setting);
    }

    /** The text is not what the key expects; the message, if any, says why. */
    private static final class Unexpected extends RuntimeException {
        Unexpected(String why) {
            super(why, null, false, false);
        }
    }

    private static <T> Parser<T> value(Function<String, T> parser) {
        return (text, setting) -> parser.apply(text);
    }

    private ConfigKey(String path, String flag, String expected, Parser<T> parser) {
        this.path = path;
        this.flag = flag;
        this.expected = expected;
        this.parser = parser;
    }

    /** The key in {@code agent.yaml}, dotted below its section: {@code limits.threads}. */
    public String path() {
        return path;
    }

    public String flag() {
        return flag;
    }

    /** {@code FEDPRUNE_AGENT_} and the key in upper snake case: {@code data.evalTokens} is {@code FEDPRUNE_AGENT_DATA_EVAL_TOKENS}. */
    public String variable() {
        return VARIABLE_PREFIX + path.replaceAll("([a-z0-9])([A-Z])", "$1_$2").replace('.', '_').toUpperCase(Locale.ROOT);
    }

    /** What a value must be, in words. */
    public String expected() {
        return expected;
    }

    /** The section of {@code agent.yaml} the key is under ({@code limits}), or empty for a top-level key. */
    Optional<String> section() {
        int dot = path.indexOf('.');
        return dot < 0 ? Optional.empty() : Optional.of(path.substring(0, dot));
    }

    /** The key's name inside its section: {@code threads}. */
    String name() {
        return path.substring(path.indexOf('.') + 1);
    }

    /**
     * The value of {@code raw}, given by {@code setting}.
     *
     * @throws InvalidConfigException naming the setting, what was expected and what was found
     * @throws dev.fedprune.agent.connection.InvalidProxySettingException for a proxy URL or list, the same way
     */
    T parse(ConfigValues.Raw raw, String setting) {
        try {
            return parser.parse(raw.text(), setting);
        } catch (Unexpected e) {
            String why = e.getMessage() == null ? "" : " (" + e.getMessage() + ")";
            throw new InvalidConfigException(setting, "expected " + expected + ", got " + raw.shown() + why);
        }
    }

    @Override
    public String toString() {
        return path;
    }

    private static String nonBlank(String text) {
        if (text.isBlank()) {
            throw new Unexpected(null);
        }
        return text.strip();
    }

    private static Path path(String text) {
        if (text.isBlank()) {
            throw new Unexpected(null);
        }
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw new Unexpected(e.getReason());
        }
    }

    private static boolean bool(String text) {
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new Unexpected(null);
        };
    }

    private static int threads(String text) {
        int threads;
        try {
            threads = Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            throw new Unexpected(null);
        }
        if (threads < 1) {
            throw new Unexpected(null);
        }
        return threads;
    }

    private static long bytes(String text) {
        try {
            return ConfigValues.parseBytes(text);
        } catch (IllegalArgumentException e) {
            throw new Unexpected(e.getMessage());
        }
    }

    /** {@code cpu}, {@code cuda}, {@code cuda:N}, and {@code gpu}, which the runtime takes for {@code cuda}. */
    private static String device(String text) {
        String device = text.strip();
        if (!device.matches("cpu|cuda|gpu|cuda:[0-9]{1,3}")) {
            throw new Unexpected(null);
        }
        return device;
    }

    /** host:port, [IPv6]:port; the port 1 to 65535. */
    private static String address(String text) {
        String address = text.strip();
        int colon = address.lastIndexOf(':');
        if (colon <= 0) {
            throw new Unexpected(address.isEmpty() ? null : "no port");
        }
        String host = address.substring(0, colon);
        boolean hostOk = host.startsWith("[") ? host.matches("\\[[0-9A-Fa-f:.]+\\]") : host.matches("[A-Za-z0-9._-]+");
        if (!hostOk) {
            throw new Unexpected(null);
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new Unexpected(null);
        }
        if (port < 1 || port > 65535) {
            throw new Unexpected("port " + port + " is not between 1 and 65535");
        }
        return address;
    }
}
