package dev.fedprune.agent.connection;

import dev.fedprune.agent.connection.ProxyRoute.ProxyUnresolvedException;
import dev.fedprune.agent.connection.ProxyRoute.Target;
import dev.fedprune.security.tls.PinnedCaMismatchException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.handler.proxy.HttpProxyHandler.HttpProxyConnectException;
import io.grpc.netty.shaded.io.netty.handler.proxy.ProxyConnectException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns the transport's failures into statuses that say what went wrong on the way to the coordinator:
 * a proxy that could not be reached, a proxy that refused the credentials (407) or the tunnel, a
 * server certificate the pinned CA did not issue (what a TLS-inspecting proxy causes). grpc reports
 * them all as {@code UNAVAILABLE: io exception} with the real reason buried in the cause; this is the
 * one place that reads the cause. Codes: a proxy's refusal is {@code PERMISSION_DENIED} (retrying the
 * same credentials cannot help); the rest stay {@code UNAVAILABLE} and are retried as before. An
 * explained status carries no cause: its description is the whole story, for logs and the CLI alike.
 */
final class TransportFailures implements ClientInterceptor {
    private static final Pattern PROXY_STATUS = Pattern.compile("status: (\\d{3})\\s*(.*)$");
    /** Netty's native (epoll) transport reports a failed connect as "finishConnect(..) failed with error(-111)": a Linux errno. */
    private static final Pattern NATIVE_ERRNO = Pattern.compile("error\\((-?\\d+)\\)");

    private final ProxySettings proxy;
    private final Target target;
    private final boolean viaProxy;

    TransportFailures(ProxySettings proxy, Target target, boolean viaProxy) {
        this.proxy = proxy;
        this.target = target;
        this.viaProxy = viaProxy;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions callOptions, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, callOptions)) {
            @Override
            public void start(Listener<R> listener, Metadata headers) {
                super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        super.onClose(explain(status), trailers);
                    }
                }, headers);
            }
        };
    }

    Status explain(Status status) {
        Throwable t = status.getCause();
        for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) {
            if (t instanceof PinnedCaMismatchException) {
                return Status.fromCode(status.getCode()).withDescription(t.getMessage() + (viaProxy ? " (calls go through " + proxyName() + ")" : ""));
            }
            if (!viaProxy) {
                continue;
            }
            if (t instanceof HttpProxyConnectException e) {
                return proxyAnswered(e);
            }
            if (t instanceof ProxyConnectException e) {
                return Status.UNAVAILABLE.withDescription(proxyName() + " did not open a tunnel to " + target + ": " + e.getMessage());
            }
            if (t instanceof ProxyUnresolvedException) {
                return Status.UNAVAILABLE.withDescription(t.getMessage());
            }
            if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
                return Status.UNAVAILABLE.withDescription(proxyName() + " could not be reached: " + reason(t));
            }
        }
        return status;
    }

    private Status proxyAnswered(HttpProxyConnectException e) {
        Matcher m = PROXY_STATUS.matcher(String.valueOf(e.getMessage()));
        boolean found = m.find();
        int code = found ? Integer.parseInt(m.group(1)) : 0;
        String answer = found ? (m.group(1) + " " + m.group(2)).strip() : String.valueOf(e.getMessage());
        if (code == 407) {
            String problem = proxy.username() == null
                    ? " requires credentials (" + answer + "); give them as http://USER@host:port, with the password in "
                            + ProxySettings.PASSWORD_VARIABLE + " or --proxy-password-file"
                    : " refused the credentials of proxy user '" + proxy.username() + "' (" + answer + ")";
            return Status.PERMISSION_DENIED.withDescription(proxyName() + problem);
        }
        Status kind = code >= 400 && code < 500 ? Status.PERMISSION_DENIED : Status.UNAVAILABLE;
        return kind.withDescription(proxyName() + " would not open a tunnel to " + target + ": it answered " + answer);
    }

    private String proxyName() {
        return "the HTTP proxy " + proxy.address() + " (" + proxy.source() + ")";
    }

    /**
     * Why a connect failed, in the operating system's words. Netty appends the address it tried
     * ("Connection refused: /10.0.0.1:3128"), which the message names already.
     */
    static String reason(Throwable t) {
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        Matcher errno = NATIVE_ERRNO.matcher(message);
        if (errno.find()) {
            String known = switch (Math.abs(Integer.parseInt(errno.group(1)))) {
                case 111 -> "Connection refused";
                case 110 -> "Connection timed out";
                case 113 -> "No route to host";
                case 101 -> "Network is unreachable";
                default -> null;
            };
            if (known != null) {
                return known;
            }
        }
        int cut = message.indexOf(": ");
        return cut > 0 ? message.substring(0, cut) : message;
    }
}
