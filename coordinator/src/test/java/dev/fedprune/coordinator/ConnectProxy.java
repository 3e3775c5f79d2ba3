package dev.fedprune.coordinator;

import dev.fedprune.security.pki.CertificateAuthority;
import dev.fedprune.security.pki.KeyPairs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * A small HTTP CONNECT proxy on a loopback port, for tests of agents behind a proxy: Basic proxy
 * authentication (407 for missing or wrong credentials), its own table of host names (so a test can
 * give the coordinator a name that only the proxy can resolve), a record of every tunnel it opened,
 * and, on request, TLS inspection: it then answers the tunnel's TLS handshake itself with a
 * certificate of its own CA, the way a TLS-inspecting corporate proxy does.
 */
final class ConnectProxy implements AutoCloseable {
    private final ServerSocket server;
    private final String user;
    private final String password;
    private final Map<String, String> hosts;
    private final SSLContext inspection;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "connect-proxy");
        t.setDaemon(true);
        return t;
    });
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final List<String> tunnels = new CopyOnWriteArrayList<>();
    private final AtomicInteger refusedCredentials = new AtomicInteger();
    private final AtomicLong bytesRelayed = new AtomicLong();

    private ConnectProxy(String user, String password, Map<String, String> hosts, boolean inspectTls) throws IOException {
        this.user = user;
        this.password = password;
        this.hosts = Map.copyOf(hosts);
        this.inspection = inspectTls ? inspectionContext() : null;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::accept);
    }

    /** A relaying proxy; {@code user} null for one without authentication; {@code hosts} maps names to the addresses it connects to. */
    static ConnectProxy relaying(String user, String password, Map<String, String> hosts) throws IOException {
        return new ConnectProxy(user, password, hosts, false);
    }

    /** A proxy that opens the tunnel but then terminates its TLS with a certificate of its own CA. */
    static ConnectProxy inspecting(Map<String, String> hosts) throws IOException {
        return new ConnectProxy(null, null, hosts, true);
    }

    int port() {
        return server.getLocalPort();
    }

    /** The CONNECT targets ({@code host:port}, as the client asked for them) of the tunnels opened so far. */
    List<String> tunnels() {
        return List.copyOf(tunnels);
    }

    /** CONNECT requests answered with 407. */
    int refusedCredentials() {
        return refusedCredentials.get();
    }

    /** Bytes carried through tunnels, both directions together. */
    long bytesRelayed() {
        return bytesRelayed.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                sockets.add(client);
                threads.execute(() -> serve(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket client) {
        try {
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            String[] head = readHead(in).split("\r\n");
            String[] requestLine = head[0].split(" ");
            if (requestLine.length != 3 || !requestLine[0].equals("CONNECT")) {
                answer(out, "405 Method Not Allowed", "");
                return;
            }
            if (user != null && !(("Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)))
                    .equals(header(head, "Proxy-Authorization")))) {
                refusedCredentials.incrementAndGet();
                answer(out, "407 Proxy Authentication Required", "Proxy-Authenticate: Basic realm=\"fedprune-test\"\r\n");
                return;
            }
            String target = requestLine[1];
            int colon = target.lastIndexOf(':');
            String host = target.substring(0, colon).replace("[", "").replace("]", "");
            int port = Integer.parseInt(target.substring(colon + 1));
            if (inspection != null) {
                tunnels.add(target);
                answer(out, "200 Connection established", "");
                impersonate(client, host, port);
                return;
            }
            Socket upstream = new Socket();
            sockets.add(upstream);
            try {
                upstream.connect(new InetSocketAddress(hosts.getOrDefault(host, host), port), 5_000);
            } catch (IOException e) {
                answer(out, "502 Bad Gateway", "");
                return;
            }
            tunnels.add(target);
            answer(out, "200 Connection established", "");
            threads.execute(() -> pump(upstream, client));
            pump(client, upstream);
        } catch (IOException | RuntimeException e) {
            close(client);
        }
    }

    private void impersonate(Socket client, String host, int port) throws IOException {
        SSLSocket tls = (SSLSocket) inspection.getSocketFactory().createSocket(client, host, port, true);
        tls.setUseClientMode(false);
        SSLParameters parameters = tls.getSSLParameters();
        parameters.setApplicationProtocols(new String[] {"h2"});
        tls.setSSLParameters(parameters);
        try {
            tls.startHandshake(); // the agent's pinned trust manager refuses our certificate here
        } finally {
            close(tls);
        }
    }

    private void pump(Socket from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
                out.flush();
                bytesRelayed.addAndGet(n);
            }
            to.shutdownOutput();
        } catch (IOException e) {
            close(from);
            close(to);
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0 || head.size() > 16 * 1024) {
                throw new IOException("no complete request head");
            }
            head.write(b);
            matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    private static String header(String[] head, String name) {
        for (int i = 1; i < head.length; i++) {
            int colon = head[i].indexOf(':');
            if (colon > 0 && head[i].substring(0, colon).equalsIgnoreCase(name)) {
                return head[i].substring(colon + 1).strip();
            }
        }
        return null;
    }

    private static void answer(OutputStream out, String status, String headers) throws IOException {
        out.write(("HTTP/1.1 " + status + "\r\n" + headers + "Content-Length: 0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    private static SSLContext inspectionContext() {
        try {
            Instant now = Instant.now();
            CertificateAuthority ca = CertificateAuthority.create("Inspecting Proxy CA", now, Duration.ofDays(1));
            KeyPair key = KeyPairs.generate();
            Certificate leaf = ca.issueServer(key.getPublic(), List.of("localhost", "127.0.0.1"), now, Duration.ofDays(1));
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("proxy", key.getPrivate(), new char[0], new Certificate[] {leaf, ca.certificate()});
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, new char[0]);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys.getKeyManagers(), null, null);
            return context;
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up the inspecting proxy's TLS", e);
        }
    }

    private void close(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // closing a socket that is already broken
        }
        sockets.remove(socket);
    }

    @Override
    public void close() throws IOException {
        server.close();
        sockets.forEach(this::close);
        threads.shutdownNow();
    }
}
