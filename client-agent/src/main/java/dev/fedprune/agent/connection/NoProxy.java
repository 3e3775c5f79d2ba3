package dev.fedprune.agent.connection;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The hosts an agent reaches directly although a proxy is set: a {@code no_proxy} list. Entries are
 * separated by commas (spaces around them are ignored, empty ones skipped):
 * <ul>
 *   <li>{@code *}: every host, i.e. the proxy is never used;</li>
 *   <li>{@code example.org}, {@code .example.org} or {@code *.example.org}: that name and every name under it;</li>
 *   <li>{@code 10.1.2.3}, {@code ::1}, {@code 10.0.0.0/8}, {@code fd00::/8}: an IP address or CIDR range, matched
 *       against coordinator addresses written as IP literals (names are never resolved to decide);</li>
 *   <li>any of the above with {@code :port} ({@code [v6]:port} for IPv6): only on that port.</li>
 * </ul>
 * Host names compare without regard to case and to a trailing dot.
 */
public final class NoProxy {
    public static final NoProxy NONE = new NoProxy(List.of(), List.of());

    private final List<String> entries;
    private final List<Rule> rules;

    private NoProxy(List<String> entries, List<Rule> rules) {
        this.entries = List.copyOf(entries);
        this.rules = List.copyOf(rules);
    }

    /** One entry of the list; {@code port} 0 matches every port. */
    private sealed interface Rule {
        boolean matches(String host, byte[] address, int port);
    }

    private record Everything() implements Rule {
        @Override
        public boolean matches(String host, byte[] address, int port) {
            return true;
        }
    }

    private record Domain(String name, int port) implements Rule {
        @Override
        public boolean matches(String host, byte[] address, int port) {
            return address == null && (this.port == 0 || this.port == port) && (host.equals(name) || host.endsWith("." + name));
        }
    }

    private record Range(byte[] network, int prefixBits, int port) implements Rule {
        @Override
        public boolean matches(String host, byte[] address, int port) {
            if (address == null || address.length != network.length || (this.port != 0 && this.port != port)) {
                return false;
            }
            for (int bit = 0; bit < prefixBits; bit++) {
                int mask = 0x80 >>> (bit % 8);
                if ((address[bit / 8] & mask) != (network[bit / 8] & mask)) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Parses a {@code no_proxy} list.
     *
     * @param setting the setting the list came from ({@code --no-proxy}, {@code no_proxy}), for messages
     * @throws InvalidProxySettingException naming {@code setting} and the entry it cannot read
     */
    public static NoProxy parse(String list, String setting) {
        if (list == null || list.isBlank()) {
            return NONE;
        }
        List<String> entries = new ArrayList<>();
        List<Rule> rules = new ArrayList<>();
        for (String raw : list.split(",")) {
            String entry = raw.strip().toLowerCase(Locale.ROOT);
            if (entry.isEmpty()) {
                continue;
            }
            rules.add(rule(entry, setting));
            entries.add(entry);
        }
        return new NoProxy(entries, rules);
    }

    private static Rule rule(String entry, String setting) {
        if (entry.equals("*")) {
            return new Everything();
        }
        String hostPart = entry;
        int port = 0;
        if (entry.startsWith("[")) {
            int close = entry.indexOf(']');
            if (close < 0) {
                throw refused(setting, entry, "an IPv6 address with a port is written [address]:port");
            }
            String after = entry.substring(close + 1);
            if (!after.isEmpty()) {
                if (!after.startsWith(":")) {
                    throw refused(setting, entry, "an IPv6 address with a port is written [address]:port");
                }
                port = port(after.substring(1), setting, entry);
            }
            hostPart = entry.substring(1, close);
        } else if (entry.indexOf(':') >= 0 && entry.indexOf(':') == entry.lastIndexOf(':')) {
            int colon = entry.indexOf(':');
            port = port(entry.substring(colon + 1), setting, entry);
            hostPart = entry.substring(0, colon);
        }
        int slash = hostPart.indexOf('/');
        if (slash >= 0) {
            String addressText = hostPart.substring(0, slash);
            byte[] network = ipLiteral(addressText);
            if (network == null) {
                throw refused(setting, entry, "'" + addressText + "' before the '/' is not an IP address");
            }
            int prefixBits;
            try {
                prefixBits = Integer.parseInt(hostPart.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefixBits = -1;
            }
            if (prefixBits < 0 || prefixBits > network.length * 8) {
                throw refused(setting, entry, "the prefix length after '/' must be 0 to " + network.length * 8);
            }
            return new Range(network, prefixBits, port);
        }
        byte[] address = ipLiteral(hostPart);
        if (address != null) {
            return new Range(address, address.length * 8, port);
        }
        if (hostPart.indexOf(':') >= 0) {
            throw refused(setting, entry, "'" + hostPart + "' is not an IPv6 address");
        }
        String name = hostPart.startsWith("*.") ? hostPart.substring(2) : hostPart.startsWith(".") ? hostPart.substring(1) : hostPart;
        name = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
        if (!isHostName(name)) {
            throw refused(setting, entry, "not a host name, .domain, *, host:port, IP address or CIDR range");
        }
        return new Domain(name, port);
    }

    /** Whether a connection to {@code host:port} (a name or an IP literal, IPv6 with or without brackets) goes direct. */
    public boolean matches(String host, int port) {
        if (rules.isEmpty()) {
            return false;
        }
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        byte[] address = ipLiteral(h);
        for (Rule rule : rules) {
            if (rule.matches(h, address, port)) {
                return true;
            }
        }
        return false;
    }

    public boolean isEmpty() {
        return rules.isEmpty();
    }

    /** The entries as given, lower case, in order, empty ones left out. */
    public List<String> entries() {
        return entries;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NoProxy other && entries.equals(other.entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        return String.join(",", entries);
    }

    private static int port(String text, String setting, String entry) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw refused(setting, entry, "port '" + text + "' is not a number between 1 and 65535");
    }

    private static InvalidProxySettingException refused(String setting, String entry, String why) {
        return new InvalidProxySettingException(setting, "entry '" + entry + "': " + why);
    }

    /** A DNS name (letters, digits, '-', '_', dots between labels) or an IPv4 address; nothing is resolved. */
    static boolean isHostName(String host) {
        if (host.isEmpty() || host.length() > 253 || host.startsWith(".") || host.endsWith(".") || host.contains("..")) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')) {
                return false;
            }
        }
        return true;
    }

    static boolean isIpv6Literal(String text) {
        byte[] address = ipLiteral(text);
        return address != null && text.indexOf(':') >= 0;
    }

    /** The bytes of an IPv4 (dotted quad) or IPv6 literal, or null for anything else; never a DNS lookup. */
    static byte[] ipLiteral(String text) {
        if (text.indexOf(':') >= 0) {
            // Only hex digits, ':' and '.' (IPv4-mapped tails): InetAddress parses these as literals, no lookup.
            if (!text.matches("[0-9a-fA-F:.]+")) {
                return null;
            }
            try {
                // IPv4-mapped IPv6 literals come back as IPv4, comparable with IPv4 entries.
                return InetAddress.getByName(text).getAddress();
            } catch (UnknownHostException e) {
                return null;
            }
        }
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] address = new byte[4];
        for (int i = 0; i < 4; i++) {
            if (!parts[i].matches("[0-9]{1,3}")) {
                return null;
            }
            int value = Integer.parseInt(parts[i]);
            if (value > 255) {
                return null;
            }
            address[i] = (byte) value;
        }
        return address;
    }
}
