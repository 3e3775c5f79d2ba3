package dev.fedprune.agent.connection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Proxy URLs and no_proxy lists: what they mean, and precise refusals that name the setting and never show a password. */
class ProxySettingsTest {
    static final String EXPECTED = "--proxy: expected http://[user[:password]@]host:port, got ";

    @Test
    void parsesAProxyUrlWithPercentEncodedCredentials() {
        ProxySettings p = ProxySettings.parse("http://alice:p%40ss%3Aw%C3%B6rd@Proxy.Example.org:3128/", "--proxy");
        assertEquals("proxy.example.org", p.host());
        assertEquals(3128, p.port());
        assertEquals("alice", p.username());
        assertEquals("p@ss:wörd", p.password());
        assertEquals("--proxy", p.source());
        assertEquals("proxy.example.org:3128", p.address());
        assertEquals(NoProxy.NONE, p.noProxy());
    }

    @Test
    void acceptsTheFormsTheUsualVariablesTakeWithoutScheme() {
        ProxySettings p = ProxySettings.parse("  10.0.0.5:8080 ", "https_proxy");
        assertEquals("10.0.0.5", p.host());
        assertEquals(8080, p.port());
        assertNull(p.username());
        ProxySettings v6 = ProxySettings.parse("HTTP://[::1]:3128", "https_proxy");
        assertEquals("::1", v6.host());
        assertEquals("[::1]:3128", v6.address());
        ProxySettings userOnly = ProxySettings.parse("http://bob@proxy:3128", "https_proxy");
        assertEquals("bob", userOnly.username());
        assertNull(userOnly.password());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "http://proxy                 | \"'http://proxy': no port (the proxy's port is required, e.g. :3128)\"",
        "http://proxy:abc             | \"'http://proxy:abc': port 'abc' is not a number\"",
        "http://proxy:0               | \"'http://proxy:0': port 0 is not between 1 and 65535\"",
        "http://proxy:70000           | \"'http://proxy:70000': port 70000 is not between 1 and 65535\"",
        "https://proxy:3128           | \"'https://proxy:3128': TLS to the proxy itself (https://) is not supported; the agent's traffic is already TLS inside the tunnel, so give the proxy as http://\"",
        "socks5://proxy:1080          | \"'socks5://proxy:1080': SOCKS proxies are not supported, only HTTP CONNECT proxies\"",
        "ftp://proxy:21               | \"'ftp://proxy:21': unknown scheme 'ftp'\"",
        "http://proxy:3128/path       | \"'http://proxy:3128/path': a proxy URL has no path, query or fragment\"",
        "http://pro xy:3128           | \"'http://pro xy:3128': 'pro xy' is not a host name or IPv4 address\"",
        "http://::1:3128              | \"'http://::1:3128': an IPv6 proxy address is written [address]:port\"",
        "http://[::g]:3128            | \"'http://[::g]:3128': '::g' is not an IPv6 address\"",
        "http://:3128                 | \"'http://:3128': '' is not a host name or IPv4 address\"",
        "http://@proxy:3128           | \"'http://@proxy:3128': the user name before '@' is empty\"",
        "http://alice:s3cret%zz@p:1   | \"'http://alice:***@p:1': a '%' in the user info must be followed by two hex digits\"",
        "http://a%3Ab:s3cret@p:1      | \"'http://a%3Ab:***@p:1': a user name cannot contain ':' in Basic proxy authentication\"",
    })
    void refusesMalformedProxyUrlsNamingTheSettingAndMaskingThePassword(String value, String problem) {
        InvalidProxySettingException e = assertThrows(InvalidProxySettingException.class, () -> ProxySettings.parse(value, "--proxy"));
        assertEquals(EXPECTED + problem, e.getMessage());
        assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    }

    @Test
    void refusesAnEmptyValue() {
        assertEquals("https_proxy: expected http://[user[:password]@]host:port, got an empty value",
                assertThrows(InvalidProxySettingException.class, () -> ProxySettings.parse(" ", "https_proxy")).getMessage());
    }

    @Test
    void neverShowsThePasswordInToString() {
        ProxySettings p = ProxySettings.parse("http://alice:hunter2@proxy:3128", "--proxy").withNoProxy(NoProxy.parse("localhost,.corp", "no_proxy"));
        assertEquals("http://alice:***@proxy:3128 (--proxy), no_proxy localhost,.corp", p.toString());
        assertFalse(p.toString().contains("hunter2"));
    }

    @Test
    void aPasswordFromElsewhereNeedsAUserAndNoSecondPassword() {
        ProxySettings user = ProxySettings.parse("http://alice@proxy:3128", "--proxy");
        assertEquals("s3cret", user.withPassword("s3cret", "--proxy-password-file").password());
        assertEquals("--proxy: names proxy user 'alice' but no password; give it in FEDPRUNE_PROXY_PASSWORD, with --proxy-password-file, or in the URL",
                assertThrows(InvalidProxySettingException.class, user::requireCompleteCredentials).getMessage());
        assertEquals("FEDPRUNE_PROXY_PASSWORD: gives a proxy password, but the proxy URL (https_proxy) names no user; write it as http://USER@proxy:3128",
                assertThrows(InvalidProxySettingException.class, () -> ProxySettings.parse("proxy:3128", "https_proxy")
                        .withPassword("x", "FEDPRUNE_PROXY_PASSWORD")).getMessage());
        assertEquals("--proxy-password-file: gives a proxy password, but the proxy URL (--proxy) carries one already; give it one way only",
                assertThrows(InvalidProxySettingException.class, () -> ProxySettings.parse("http://alice:a@proxy:3128", "--proxy")
                        .withPassword("b", "--proxy-password-file")).getMessage());
    }

    @Test
    void noProxyMatchesNamesWithTheirSubdomainsAddressesRangesAndPorts() {
        NoProxy list = NoProxy.parse(" example.org, .corp.test ,*.lab.test, 10.0.0.0/8, 192.168.1.7, ::1, fd00::/8, gw.test:8443, [2001:db8::1]:443,,", "no_proxy");
        assertEquals(List.of("example.org", ".corp.test", "*.lab.test", "10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8", "gw.test:8443",
                "[2001:db8::1]:443"), list.entries());
        assertTrue(list.matches("example.org", 443));
        assertTrue(list.matches("coordinator.EXAMPLE.org.", 443));
        assertFalse(list.matches("badexample.org", 443), "a suffix match is on a label boundary");
        assertTrue(list.matches("corp.test", 1));
        assertTrue(list.matches("a.b.corp.test", 1));
        assertTrue(list.matches("x.lab.test", 1));
        assertTrue(list.matches("10.200.3.4", 50051));
        assertFalse(list.matches("11.0.0.1", 50051));
        assertTrue(list.matches("192.168.1.7", 1));
        assertFalse(list.matches("192.168.1.8", 1));
        assertTrue(list.matches("[::1]", 1));
        assertTrue(list.matches("fd12:3456::9", 1));
        assertFalse(list.matches("fe80::1", 1));
        assertTrue(list.matches("gw.test", 8443));
        assertFalse(list.matches("gw.test", 443), "host:port matches that port only");
        assertTrue(list.matches("2001:db8::1", 443));
        assertFalse(list.matches("2001:db8::1", 444));
        assertFalse(list.matches("coordinator.internal", 443));
        assertFalse(list.matches("10.0.0.1.nip.io", 443), "names are never resolved or read as addresses");
        assertTrue(NoProxy.parse("*", "no_proxy").matches("anything.at.all", 1));
        assertFalse(NoProxy.parse("", "no_proxy").matches("localhost", 1));
        assertTrue(NoProxy.parse("", "no_proxy").isEmpty());
    }

    @Test
    void aProxyAppliesToTargetsItsNoProxyListDoesNotCover() {
        ProxySettings p = ProxySettings.parse("http://proxy:3128", "--proxy").withNoProxy(NoProxy.parse("localhost,10.0.0.0/8", "--no-proxy"));
        assertTrue(p.appliesTo("coordinator.example.org:50051"));
        assertFalse(p.appliesTo("localhost:50051"));
        assertFalse(p.appliesTo("10.1.2.3:50051"));
        assertTrue(p.appliesTo("[::1]:50051"));
        assertFalse(p.appliesTo("dns:///localhost:50051"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "a b                | \"--no-proxy: entry 'a b': not a host name, .domain, *, host:port, IP address or CIDR range\"",
        "host:http          | \"--no-proxy: entry 'host:http': port 'http' is not a number between 1 and 65535\"",
        "host:0             | \"--no-proxy: entry 'host:0': port '0' is not a number between 1 and 65535\"",
        "10.0.0.0/33        | \"--no-proxy: entry '10.0.0.0/33': the prefix length after '/' must be 0 to 32\"",
        "fd00::/129         | \"--no-proxy: entry 'fd00::/129': the prefix length after '/' must be 0 to 128\"",
        "example.org/8      | \"--no-proxy: entry 'example.org/8': 'example.org' before the '/' is not an IP address\"",
        "[::1               | \"--no-proxy: entry '[::1': an IPv6 address with a port is written [address]:port\"",
        "[::1]443           | \"--no-proxy: entry '[::1]443': an IPv6 address with a port is written [address]:port\"",
        "fe80::zz           | \"--no-proxy: entry 'fe80::zz': 'fe80::zz' is not an IPv6 address\"",
        "exa*mple.org       | \"--no-proxy: entry 'exa*mple.org': not a host name, .domain, *, host:port, IP address or CIDR range\"",
    })
    void refusesMalformedNoProxyEntriesNamingTheSettingAndTheEntry(String list, String message) {
        assertEquals(message, assertThrows(InvalidProxySettingException.class, () -> NoProxy.parse("localhost," + list, "--no-proxy")).getMessage());
    }
}
